"""``gitberth`` command line: one module per group of verbs, all on one Typer app.

Importing a command module registers its verbs on the shared app. ``main`` imports only the
module of the verb it was asked for, so a CI job running ``gitberth plan`` does not pay for
the server, backup and conversion stacks at every start (most of a short command's time was
imports); ``gitberth.cli.app`` and ``--help`` load every module.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from gitberth.cli._app import app

__all__ = ["COMMAND_MODULES", "app", "load_all", "main"]

COMMAND_MODULES: dict[str, str] = {
    "apply": "reconcile_commands",
    "backup": "backup_commands",
    "convert": "convert_commands",
    "history": "operate_commands",
    "init": "seal_commands",
    "logs": "operate_commands",
    "plan": "reconcile_commands",
    "rekey": "seal_commands",
    "restore": "backup_commands",
    "rollback": "operate_commands",
    "schema": "manifest_commands",
    "seal": "seal_commands",
    "seal-status": "seal_commands",
    "serve": "serve_command",
    "status": "status_commands",
    "token": "token_commands",
    "unseal": "seal_commands",
    "validate": "manifest_commands",
    "volumes": "volume_commands",
}
"""Which module registers each top-level verb (a unit test checks it against the app)."""


def _load(module: str) -> typer.Typer:
    importlib.import_module(f"gitberth.cli.{module}")
    from gitberth.cli._app import app

    return app


def load_all() -> typer.Typer:
    """The app with every verb registered."""
    for module in sorted(set(COMMAND_MODULES.values())):
        _load(module)
    from gitberth.cli._app import app

    return app


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return load_all()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    verb = sys.argv[1] if len(sys.argv) > 1 else ""
    module = COMMAND_MODULES.get(verb)
    # Imports make many long-lived objects and little garbage: the collector stays off while
    # they run, and what they made is frozen out of every later collection (a long-running
    # serve gains too), where walking it again and again was a large part of a short
    # command's start-up.
    gc.disable()
    app = load_all() if module is None else _load(module)
    gc.freeze()
    gc.enable()
    try:
        if module is None:
            app()
        else:
            # A group even when the module registers one verb, so ``gitberth VERB ...`` parses
            # alike.
            typer.main.get_group(app)(prog_name="gitberth")
    except SystemExit as done:
        from gitberth.cli import _app

        if _app.exit_at_once and (done.code is None or isinstance(done.code, int)):
            _exit_now(done.code or 0)
        raise


def _exit_now(code: int) -> None:
    """End the process with *code* once stdout and stderr are flushed, skipping the
    interpreter's teardown (freeing every module and object one by one), which took longer
    than many a review. Only for a verb that set ``exit_at_once``: nothing else is left to
    close or write. Returns (and the exit goes the usual way) when a stream cannot be flushed,
    e.g. a closed pipe."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        return
    os._exit(code)
