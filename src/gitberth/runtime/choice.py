"""Which runtime drives the engine: ``--runtime docker|swarm``, or auto-detected.

A Swarm manager runs plain containers as well as services, so the choice cannot be read from
the engine alone without a rule: ``auto`` (the default) takes Swarm when the engine at
``DOCKER_HOST`` is an active swarm manager and Docker otherwise; naming one overrides it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from gitberth.core.errors import RuntimeUnavailableError

if TYPE_CHECKING:
    import docker


class RuntimeKind(StrEnum):
    AUTO = "auto"
    DOCKER = "docker"
    SWARM = "swarm"


def resolve_kind(kind: RuntimeKind, *, client: docker.DockerClient | None = None) -> RuntimeKind:
    """*kind* itself, or for ``auto`` what the engine is: a swarm manager means Swarm. An
    engine that does not answer is an error (a later pass could not tell either)."""
    if kind is not RuntimeKind.AUTO:
        return kind
    import docker  # loaded only when a command talks to an engine: offline verbs start fast
    import docker.errors
    import requests

    from gitberth.runtime.swarm import is_swarm_manager

    try:
        engine = client or docker.from_env()
        return RuntimeKind.SWARM if is_swarm_manager(engine) else RuntimeKind.DOCKER
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        raise RuntimeUnavailableError(
            f"cannot tell which runtime to use (--runtime auto): the engine does not answer ({exc})"
        ) from exc
