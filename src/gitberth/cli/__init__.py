"""``gitberth`` command line: one module per group of verbs, all on one Typer app."""

from __future__ import annotations

import gitberth.cli.backup_commands

# Importing a command module registers its verbs on the shared app.
import gitberth.cli.convert_commands
import gitberth.cli.manifest_commands
import gitberth.cli.operate_commands
import gitberth.cli.reconcile_commands  # noqa: F401
import gitberth.cli.server_commands  # noqa: F401
import gitberth.cli.status_commands
import gitberth.cli.volume_commands  # noqa: F401
from gitberth.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
