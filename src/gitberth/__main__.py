"""``python -m gitberth`` runs the command line."""

from gitberth.cli import main

main()
