"""``gitberth`` command line: one module per group of verbs, all on one Typer app."""

from __future__ import annotations

from gitberth.cli import manifest_commands, reconcile_commands  # noqa: F401  (registers verbs)
from gitberth.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
