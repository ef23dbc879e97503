"""Command-line options that several verbs share, defined once so names and help agree."""

from __future__ import annotations

import ipaddress
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


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise typer.BadParameter("must be an IP address such as 127.0.0.1 or 0.0.0.0") from None


PublishAddressOption = Annotated[
    str,
    typer.Option(
        "--publish-address",
        callback=_ip_address,
        help="host address for published ports that name none (0.0.0.0: every interface); "
        "changing it replaces the containers that use it",
    ),
]
