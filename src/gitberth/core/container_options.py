"""How a service's containers run: the normalized container options (health check, restart,
limits, labels, process, published ports) built from the manifest's option fields, and the
server's publishing policy.

Kept apart from the fields (:mod:`gitberth.core.option_fields`) so that the spec hash, the
value-free summary (:mod:`gitberth.core.option_changes`), the plan's reasons, the review and the
runtime all read one :class:`ContainerOptions` value with every default applied.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from gitberth.core.option_fields import (
    DEFAULT_HEALTH_INTERVAL_NS,
    DEFAULT_HEALTH_RETRIES,
    DEFAULT_HEALTH_TIMEOUT_NS,
    DEFAULT_PIDS_LIMIT,
    DEFAULT_PUBLISH_ADDRESS,
    HealthCheckFields,
    OptionFields,
    ResourcesFields,
    RestartPolicy,
)
from gitberth.core.quantities import format_duration


@dataclass(frozen=True)
class HealthCheck:
    """A service's health check, with every default applied."""

    kind: Literal["http", "tcp", "command"]
    command: tuple[str, ...] = ()
    """The command for ``command`` checks."""
    path: str | None = None
    """The path for ``http`` checks."""
    port: int | None = None
    """The container port for ``http`` and ``tcp`` checks."""
    interval_ns: int = DEFAULT_HEALTH_INTERVAL_NS
    timeout_ns: int = DEFAULT_HEALTH_TIMEOUT_NS
    retries: int = DEFAULT_HEALTH_RETRIES
    start_period_ns: int = 0

    @property
    def test(self) -> list[str]:
        """Docker's ``Healthcheck.Test``: exit 0 healthy, 1 unhealthy.

        http and tcp run in the container's shell with busybox-compatible ``wget``/``nc`` (no
        curl needed); the URL is shell-quoted, so a path cannot inject a command.
        """
        if self.kind == "command":
            return ["CMD", *self.command]
        if self.kind == "http":
            url = f"http://127.0.0.1:{self.port}{self.path}"
            return ["CMD-SHELL", f"wget -q -O /dev/null {shlex.quote(url)} || exit 1"]
        return ["CMD-SHELL", f"nc -w 1 127.0.0.1 {self.port} </dev/null || exit 1"]

    @property
    def worst_case_seconds(self) -> float:
        """How long the engine may take to call a container unhealthy: the start period, then
        *retries* checks, each up to one interval apart and one timeout long."""
        per_check = self.interval_ns + self.timeout_ns
        return (self.start_period_ns + self.retries * per_check) / 1e9

    def describe(self) -> str:
        if self.kind == "http":
            what = f"http {self.path} on port {self.port}"
        elif self.kind == "tcp":
            what = f"tcp port {self.port}"
        else:
            what = "command " + " ".join(self.command)
        timing = (
            f"every {format_duration(self.interval_ns)}, timeout "
            f"{format_duration(self.timeout_ns)}, {self.retries} retries"
        )
        if self.start_period_ns:
            timing += f", start period {format_duration(self.start_period_ns)}"
        return f"{what} ({timing})"


@dataclass(frozen=True)
class PortBinding:
    """One published port; ``address`` None means the server's default publish address."""

    container: int
    host: int | None = None
    address: str | None = None
    mode: str | None = None
    """Swarm's publish mode (host or ingress); None: host. One engine ignores it."""

    def describe(self, default_address: str | None = None) -> str:
        address = self.address or default_address or "default"
        host = self.host if self.host is not None else "auto"
        mode = f" ({self.mode})" if self.mode else ""
        return f"{address}:{host}->{self.container}{mode}"


@dataclass(frozen=True)
class ContainerOptions:
    """Everything of :class:`~gitberth.core.option_fields.OptionFields` with defaults applied;
    part of the spec hash."""

    healthcheck: HealthCheck | None = None
    restart: RestartPolicy = RestartPolicy.UNLESS_STOPPED
    memory: int | None = None
    cpus: float | None = None
    pids: int = DEFAULT_PIDS_LIMIT
    labels: tuple[tuple[str, str], ...] = ()
    user: str | None = None
    working_dir: str | None = None
    entrypoint: tuple[str, ...] | None = None
    stop_signal: str | None = None
    stop_grace_ns: int | None = None
    ports: tuple[PortBinding, ...] = field(default=())
    """The long form (``ports:``) only; the short form stays in ServiceSpec.port/host_port."""


def options_from(fields: OptionFields, *, port: int | None) -> ContainerOptions:
    """Normalize the option fields of one service; *port* is its short-form port, if any."""
    ports = tuple(
        PortBinding(container=p.container, host=p.host, address=p.address, mode=p.mode)
        for p in fields.ports or ()
    )
    main_port = port if port is not None else (ports[0].container if ports else None)
    resources = fields.resources or ResourcesFields()
    return ContainerOptions(
        healthcheck=_healthcheck(fields.healthcheck, main_port=main_port),
        restart=fields.restart or RestartPolicy.UNLESS_STOPPED,
        memory=resources.memory,
        cpus=resources.cpus,
        pids=resources.pids if resources.pids is not None else DEFAULT_PIDS_LIMIT,
        labels=tuple(sorted((fields.labels or {}).items())),
        user=fields.user,
        working_dir=fields.workingDir,
        entrypoint=tuple(fields.entrypoint) if fields.entrypoint is not None else None,
        stop_signal=fields.stopSignal,
        stop_grace_ns=fields.stopGracePeriod,
        ports=ports,
    )


def _healthcheck(check: HealthCheckFields | None, *, main_port: int | None) -> HealthCheck | None:
    if check is None:
        return None
    kind: Literal["http", "tcp", "command"] = (
        "http" if check.http is not None else "tcp" if check.tcp else "command"
    )
    return HealthCheck(
        kind=kind,
        command=tuple(check.command or ()),
        path=check.http,
        port=None if kind == "command" else (check.port or main_port),
        interval_ns=check.interval if check.interval is not None else DEFAULT_HEALTH_INTERVAL_NS,
        timeout_ns=check.timeout if check.timeout is not None else DEFAULT_HEALTH_TIMEOUT_NS,
        retries=check.retries if check.retries is not None else DEFAULT_HEALTH_RETRIES,
        start_period_ns=check.startPeriod or 0,
    )


@dataclass(frozen=True)
class PublishPolicy:
    """Where the server publishes ports: its default address (``serve --publish-address``)
    and the host ports a manifest may not take (the API's own listen port)."""

    default_address: str = DEFAULT_PUBLISH_ADDRESS
    reserved_host_ports: frozenset[int] = frozenset()

    def refusals(self, *, port_fields: Sequence[tuple[str, int | None]]) -> list[tuple[str, str]]:
        """``(field path, message)`` for every fixed host port the server keeps for itself."""
        return [
            (path, f"host port {host} is gitberth's own API port; pick another")
            for path, host in port_fields
            if host is not None and host in self.reserved_host_ports
        ]
