"""The one place that names a concrete runtime: everything else takes a
:class:`~gitberth.runtime.base.Runtime` and never knows which engine is behind it."""

from __future__ import annotations

import logging

from gitberth.core.binds import BindPolicy
from gitberth.core.errors import RuntimeUnavailableError
from gitberth.defaults import (
    DEFAULT_GRACE_SECONDS,
    DEFAULT_PUBLISH_ADDRESS,
    DEFAULT_ROLLOUT_TIMEOUT,
)
from gitberth.runtime.base import Runtime
from gitberth.runtime.choice import RuntimeKind, resolve_kind
from gitberth.runtime.secret_files import SecretFilesRoot

logger = logging.getLogger("gitberth.runtime")


def build_runtime(
    *,
    source: str,
    secret_files: SecretFilesRoot,
    grace_seconds: int = DEFAULT_GRACE_SECONDS,
    rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
    publish_address: str = DEFAULT_PUBLISH_ADDRESS,
    bind_policy: BindPolicy | None = None,
    kind: RuntimeKind = RuntimeKind.DOCKER,
) -> Runtime:
    """The runtime ``serve``, ``apply`` and ``plan`` drive, for the source *source*: *kind*
    (``--runtime``), where ``auto`` asks the engine whether it is a swarm manager. The Swarm
    runtime needs no secret files root (Swarm mounts its own secrets) and publishes in host
    mode on every address of the node (Swarm has no per-address binding)."""
    try:
        chosen = resolve_kind(kind)
    except RuntimeUnavailableError as exc:
        # serve starts while the engine is down (its loop retries); apply and plan find the
        # engine unreachable on their first call anyway
        logger.warning("%s; using the docker runtime (say --runtime swarm to be sure)", exc)
        chosen = RuntimeKind.DOCKER
    if chosen is RuntimeKind.SWARM:
        from gitberth.runtime.swarm import SwarmRuntime

        return SwarmRuntime(
            source=source,
            grace_seconds=grace_seconds,
            rollout_timeout=rollout_timeout,
            bind_policy=bind_policy,
        )
    from gitberth.runtime.docker import DockerRuntime  # the engine SDK loads only when needed

    return DockerRuntime(
        source=source,
        grace_seconds=grace_seconds,
        secret_files=secret_files,
        rollout_timeout=rollout_timeout,
        publish_address=publish_address,
        bind_policy=bind_policy,
    )
