"""Command-line options that several verbs share, defined once so names and help agree."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        help="state directory: secret store, tokens, status (default: $GITBERTH_STATE_DIR, "
        "else /var/lib/gitberth as root, else ~/.local/state/gitberth)",
        show_default=False,
    ),
]
BranchOption = Annotated[str, typer.Option("--branch", help="branch of the repo to follow")]
AppsDirOption = Annotated[
    str, typer.Option("--apps-dir", help="directory of app manifests inside the repo")
]
SecretsDirOption = Annotated[
    Path, typer.Option("--secrets-dir", help="RAM-backed (tmpfs) root for secret files")
]
GraceOption = Annotated[
    int, typer.Option("--grace", help="seconds a container gets to stop before it is killed")
]
AllowBindOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--allow-bind-under",
        help="allow manifests to bind-mount host paths under this directory (repeatable); "
        "without it every bind mount is refused, and the engine socket always is",
        show_default=False,
    ),
]
