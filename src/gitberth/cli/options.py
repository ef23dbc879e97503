"""Command-line options that several verbs share, defined once so names and help agree.

Every option of ``serve`` can also be set as ``GITBERTH_<OPTION>`` (``--apps-dir`` is
``GITBERTH_APPS_DIR``), so the container image needs no arguments; the flag wins over the
variable.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from gitberth.defaults import DEFAULT_HOST, DEFAULT_PORT, TOKEN_ENV
from gitberth.runtime.choice import RuntimeKind

StateDirOption = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="GITBERTH_STATE_DIR",
        help="state directory: secret store, tokens, status (default: $GITBERTH_STATE_DIR, "
        "else /var/lib/gitberth as root, else ~/.local/state/gitberth)",
        show_default=False,
    ),
]
BranchOption = Annotated[
    str, typer.Option("--branch", envvar="GITBERTH_BRANCH", help="branch of the repo to follow")
]
AppsDirOption = Annotated[
    str,
    typer.Option(
        "--apps-dir", envvar="GITBERTH_APPS_DIR", help="directory of app manifests inside the repo"
    ),
]
SecretsDirOption = Annotated[
    Path,
    typer.Option(
        "--secrets-dir",
        envvar="GITBERTH_SECRETS_DIR",
        help="RAM-backed (tmpfs) root for secret files",
    ),
]
GraceOption = Annotated[
    int,
    typer.Option(
        "--grace",
        envvar="GITBERTH_GRACE",
        help="seconds a container gets to stop before it is killed",
    ),
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
        envvar="GITBERTH_PUBLISH_ADDRESS",
        callback=_ip_address,
        help="host address for published ports that name none (0.0.0.0: every interface); "
        "changing it replaces the containers that use it",
    ),
]
AllowBindOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--allow-bind-under",
        envvar="GITBERTH_ALLOW_BIND_UNDER",
        help="allow manifests to bind-mount host paths under this directory (repeatable); "
        "without it every bind mount is refused, and the engine socket always is",
        show_default=False,
    ),
]


RuntimeOption = Annotated[
    RuntimeKind,
    typer.Option(
        "--runtime",
        envvar="GITBERTH_RUNTIME",
        case_sensitive=False,
        help="docker (containers on one engine) or swarm (services on a swarm manager); "
        "auto picks swarm when the engine is an active swarm manager",
    ),
]

DEFAULT_API = f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"

ApiOption = Annotated[
    str, typer.Option("--api", envvar="GITBERTH_API", help="URL of the running gitberth server")
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar=TOKEN_ENV, help="admin bearer token", show_default=False),
]
