"""The Typer application and the Rich consoles every command module shares.

The consoles are made on first use (Rich loads then): ``gitberth plan --base --head --format
json``, a CI job's whole process, prints nothing through them unless something is wrong.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    console: Console
    err_console: Console

app = typer.Typer(
    name="gitberth",
    help="Declarative GitOps reconciler for Docker: Git manifests in, labelled containers out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


exit_at_once = False
"""Set by a verb that has written all its output and holds nothing open (the offline review):
:func:`gitberth.cli.main` then ends the process without the interpreter's teardown."""


def __getattr__(name: str) -> Console:
    if name not in ("console", "err_console"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    made = Console(stderr=name == "err_console", highlight=False)
    globals()[name] = made  # later reads find it without calling here again
    return made
