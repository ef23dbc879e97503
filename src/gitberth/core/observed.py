"""What the runtime reports back: containers and Swarm tasks as observed on the engine.

Apart from the manifest and resolved values because it describes the other side of the
reconcile, the running state the planner compares the desired state with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gitberth.core.models import container_base


class ContainerState(StrEnum):
    RUNNING = "running"
    CREATED = "created"
    RESTARTING = "restarting"
    EXITED = "exited"
    PAUSED = "paused"
    DEAD = "dead"
    REMOVING = "removing"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ObservedTask:
    """One task of a Swarm service (a replica's current container): where it runs and how it
    stands, as ``GET /tasks`` reports it. ``error`` is the engine's reason for a failed or
    rejected task (engine text about the container, never a secret value)."""

    id: str
    slot: int | None
    node: str
    state: str
    desired_state: str
    error: str = ""
    message: str = ""


@dataclass(frozen=True)
class ObservedContainer:
    """A container carrying gitberth labels, as one engine list call reports it.

    Under the Swarm runtime it is one Swarm *service* (named like a container prefix, without
    a replica number): ``replicas`` is the count its spec asks for and ``tasks`` its current
    tasks; on one engine both stay unset."""

    id: str
    name: str
    app: str
    service: str
    spec_hash: str
    revision: str
    state: ContainerState
    image: str = ""
    host_port: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    created_at: float | None = None
    """When the engine created the container (POSIX seconds; the list call gives whole
    seconds), so a review can tell which secrets changed since it started. None when unknown."""
    health: str | None = None
    """The engine's health state (healthy, unhealthy, starting); None without a health check."""
    host_address: str | None = None
    """The host address ``host_port`` is published on (None: unknown, read as 127.0.0.1)."""
    health_output: str = ""
    """For an unhealthy container, its health check's last output. The runtime reads it raw;
    the reconciler redacts it (or drops it) before anything else sees it."""
    volumes: tuple[str, ...] = ()
    """Engine names of the gitberth volumes it mounts (``<app>_<name>``), from the list call."""
    replicas: int | None = None
    """Swarm: the replica count of the service's spec (None on one engine)."""
    tasks: tuple[ObservedTask, ...] = ()
    """Swarm: the service's current task per slot, with node, state and error."""

    @property
    def replica(self) -> int | None:
        """The replica number encoded in the name, or None when the name is not ours."""
        prefix = container_base(self.app, self.service) + "-"
        if not self.name.startswith(prefix):
            return None
        tail = self.name[len(prefix) :]
        if not tail.isdigit() or tail.startswith("0"):
            return None
        return int(tail)

    @property
    def url(self) -> str | None:
        """Where the first published port answers; a port published on every interface
        (0.0.0.0, ::) is shown on loopback."""
        if not self.host_port:
            return None
        address = self.host_address or "127.0.0.1"
        if address in ("0.0.0.0", "::"):
            address = "127.0.0.1"
        host = f"[{address}]" if ":" in address else address
        return f"http://{host}:{self.host_port}"
