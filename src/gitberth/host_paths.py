"""The operator's bind-mount rule on this host: allowed prefixes and engine sockets, resolved.

:class:`gitberth.core.binds.BindPolicy` is pure; this module gives it what only the host
knows: symlinks resolved by ``os.path.realpath`` and the socket ``DOCKER_HOST`` points at.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gitberth.core.binds import ENGINE_SOCKETS, BindPolicy


def bind_policy(allowed: Sequence[Path] | None) -> BindPolicy:
    """The policy for ``--allow-bind-under`` *allowed* (none: every bind mount is refused)."""
    sockets = set(ENGINE_SOCKETS) | {os.path.realpath(s) for s in ENGINE_SOCKETS}
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith("unix://"):
        socket = docker_host.removeprefix("unix://")
        sockets |= {socket, os.path.realpath(socket)}
    return BindPolicy(
        allowed=tuple(sorted({os.path.realpath(p) for p in allowed or ()})),
        sockets=tuple(sorted(sockets)),
        resolve=os.path.realpath,
    )
