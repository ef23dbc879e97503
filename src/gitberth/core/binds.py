"""Which host paths a manifest may bind-mount: only under prefixes the operator allows.

Whoever can merge a manifest must not get root on the host, and a bind mount of ``/``, of
``/etc`` or of the engine's socket is exactly that. So a bind mount is refused unless the
server was started with ``--allow-bind-under PREFIX``, and the engine socket is refused even
then. Paths are compared after normalization and after resolving symlinks, so neither
``/srv/apps/../../etc`` nor a symlink under an allowed prefix that points elsewhere escapes.

The check is pure: resolving symlinks is I/O, so the caller hands in the resolver
(``os.path.realpath`` in the shell; plain normalization by default) as a value.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from gitberth.core.errors import ActionFailedError
from gitberth.core.models import AppManifest
from gitberth.core.wiring import VolumeSpec

ENGINE_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
"""The engine sockets that are never mounted; the shell adds the one ``DOCKER_HOST`` names."""

Resolver = Callable[[str], str]


@dataclass(frozen=True)
class BindPolicy:
    """The operator's rule for bind mounts. The default allows none."""

    allowed: tuple[str, ...] = ()
    """Prefixes (already resolved by the shell) under which a bind source may lie."""
    sockets: tuple[str, ...] = ENGINE_SOCKETS
    resolve: Resolver = field(default=posixpath.normpath, compare=False)

    def problem(self, source: str) -> str | None:
        """Why *source* may not be mounted, or None when it may."""
        if ".." in source.split("/") or not source.startswith("/"):
            return "a bind source must be an absolute path without '..'"
        resolved = posixpath.normpath(self.resolve(source))
        shown = source if resolved == posixpath.normpath(source) else f"{source} ({resolved})"
        if resolved.endswith(".sock") or any(
            _is_under(socket, resolved) for socket in self.sockets
        ):
            return f"bind {shown} would expose the engine socket; it is never mounted"
        if not self.allowed:
            return (
                f"bind {shown}: host paths are refused unless the server allows a prefix "
                "(gitberth serve --allow-bind-under DIR); use a named volume instead"
            )
        if not any(_is_under(resolved, prefix) for prefix in self.allowed):
            return f"bind {shown} is not under an allowed prefix ({', '.join(self.allowed)})"
        return None

    def resolved(self, source: str) -> str:
        """The path to hand the engine: symlinks resolved, so what was checked is mounted."""
        return posixpath.normpath(self.resolve(source))

    def mount_sources(self, volumes: Iterable[VolumeSpec]) -> dict[str, str]:
        """Each bind source of *volumes* and the resolved path to mount, every one checked
        again at mount time (a symlink may have moved since the manifest was loaded): a refused
        one fails the action. Both runtimes mount through this, so they refuse alike."""
        sources: dict[str, str] = {}
        for mount in volumes:
            if mount.bind is None:
                continue
            problem = self.problem(mount.bind)
            if problem is not None:
                raise ActionFailedError(problem)
            sources[mount.bind] = self.resolved(mount.bind)
        return sources


def _is_under(path: str, prefix: str) -> bool:
    prefix = posixpath.normpath(prefix)
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def bind_problems(manifest: AppManifest, *, policy: BindPolicy) -> list[tuple[str, str]]:
    """``(field path, message)`` for every bind mount of *manifest* the policy refuses."""
    found: list[tuple[str, str]] = []
    groups = (
        [("", manifest.volumes)]
        if manifest.services is None
        else [(f"services.{i}.", s.volumes) for i, s in enumerate(manifest.services)]
    )
    for prefix, mounts in groups:
        for index, mount in enumerate(mounts):
            if mount.bind is None:
                continue
            why = policy.problem(mount.bind)
            if why is not None:
                found.append((f"{prefix}volumes.{index}.bind", why))
    return found
