"""The container-option fields of a manifest (health check, restart policy, limits, labels,
process and published ports) as users write them, with their defaults and validation rules.

These fields come from docker compose (camelCased) and are kept apart from the secret-related
manifest fields; the manifest classes mix :class:`OptionFields` in, both per service and at the
top level of a single-service app. :mod:`gitberth.core.container_options` turns them into the
normalized values every later stage reads.

Fields that would give whoever can merge a manifest root on the host (``privileged``,
``capAdd``, ``devices``, the host's network/PID/IPC namespaces, ...) are not fields at all;
:data:`REFUSED_FIELDS` says why each is refused, so the error is more than "unknown field".
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gitberth.core.field_types import StrictModel
from gitberth.core.quantities import format_bytes, format_duration, parse_bytes, parse_duration

DEFAULT_PIDS_LIMIT = 1024
"""Processes a container may run unless ``resources.pids`` says otherwise: ample for any
service, and a fork bomb stays inside its container instead of exhausting the host."""
MAX_PIDS_LIMIT = 4_194_304
MIN_MEMORY_BYTES = 6 * 1024**2
"""The engine refuses smaller memory limits."""
DEFAULT_PUBLISH_ADDRESS = "127.0.0.1"

DEFAULT_HEALTH_INTERVAL_NS = 2_000_000_000
DEFAULT_HEALTH_TIMEOUT_NS = 2_000_000_000
DEFAULT_HEALTH_RETRIES = 3
"""Health check defaults. Compose's are 30s/30s/3, but the check gates every rollout, and the
engine runs the first check only after one interval: 2s keeps a deploy quick."""

REFUSED_FIELDS: Mapping[str, str] = {
    **dict.fromkeys(
        ("privileged",),
        "privileged containers are refused: the container would have every capability and "
        "every host device, which is root on the host for whoever can merge a manifest",
    ),
    **dict.fromkeys(
        ("capAdd", "cap_add"),
        "adding capabilities is refused: capabilities such as SYS_ADMIN or NET_ADMIN let a "
        "container escape to the host; containers keep the engine's default set",
    ),
    **dict.fromkeys(
        ("devices",),
        "host devices are refused: a device node gives a container direct access to host "
        "hardware (disks, /dev/mem)",
    ),
    **dict.fromkeys(
        ("networkMode", "network_mode"),
        "networkMode is refused: `host` would share the host's network namespace (every host "
        "port and interface, no isolation); gitberth manages container networking",
    ),
    **dict.fromkeys(
        ("pid",),
        "pid is refused: `host` would share the host's PID namespace, so the container could "
        "see and signal every process of the host",
    ),
    **dict.fromkeys(
        ("ipc",),
        "ipc is refused: `host` would share the host's IPC namespace (shared memory of every "
        "host process)",
    ),
    **dict.fromkeys(
        ("usernsMode", "userns_mode"),
        "usernsMode is refused: `host` would turn off user namespace remapping",
    ),
    **dict.fromkeys(
        ("securityOpt", "security_opt"),
        "securityOpt is refused: it can turn off seccomp, AppArmor and no-new-privileges; "
        "gitberth sets no-new-privileges on every container",
    ),
    **dict.fromkeys(
        ("cgroupParent", "cgroup_parent", "cgroup"),
        "cgroup settings are refused: they would move the container out of the limits "
        "gitberth sets",
    ),
    **dict.fromkeys(
        ("sysctls",),
        "sysctls are refused: some of them change the host kernel",
    ),
}
"""Compose keys (and their camelCase spellings) a manifest may not use, with the reason."""


class RestartPolicy(StrEnum):
    """When the engine restarts a container by itself (even while gitberth is down)."""

    UNLESS_STOPPED = "unlessStopped"
    ON_FAILURE = "onFailure"
    ALWAYS = "always"
    NO = "no"

    @property
    def docker_name(self) -> str:
        return {
            RestartPolicy.UNLESS_STOPPED: "unless-stopped",
            RestartPolicy.ON_FAILURE: "on-failure",
            RestartPolicy.ALWAYS: "always",
            RestartPolicy.NO: "no",
        }[self]


def _duration(value: Any) -> int:
    return parse_duration(value)


def _bytes(value: Any) -> int:
    return parse_bytes(value)


_DURATION_SCHEMA_PATTERN = r"^((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+$"

Duration = Annotated[
    int,
    BeforeValidator(_duration),
    PlainSerializer(format_duration, return_type=str),
    Field(
        json_schema_extra={
            "type": "string",
            "pattern": _DURATION_SCHEMA_PATTERN,
            "examples": ["500ms", "2s", "1m30s"],
        }
    ),
]
"""A compose duration (``500ms``, ``2s``, ``1m30s``), held as nanoseconds."""

MemorySize = Annotated[
    int,
    BeforeValidator(_bytes),
    PlainSerializer(format_bytes, return_type=str),
    Field(
        json_schema_extra={
            "type": ["string", "integer"],
            "pattern": r"^\d+(\.\d+)?\s*([kKmMgGtT][iI]?[bB]?|[bB])?$",
            "examples": ["256Mi", "512m", "1g"],
        }
    ),
]

_PORT = Annotated[int, Field(ge=1, le=65535, strict=True)]
_LABEL_KEY = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
_HTTP_PATH = re.compile(r"^/[\x21-\x7e]*$")
STOP_SIGNALS = frozenset(
    {"SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL", "SIGWINCH"}
)


def _label_value(value: Any) -> Any:
    """Accept YAML numbers and booleans as label values, the way compose does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


class HealthCheckFields(StrictModel):
    """``healthcheck:``: exactly one of ``http``, ``tcp`` or ``command``, and its timing."""

    http: str | None = Field(
        default=None,
        description="GET this path on 127.0.0.1 inside the container; healthy on 2xx/3xx "
        "(the image needs /bin/sh and wget, as busybox has)",
    )
    tcp: Literal[True] | None = Field(
        default=None,
        description="healthy when the port accepts a TCP connection (the image needs "
        "/bin/sh and nc)",
    )
    command: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, min_length=1, description="run in the container; healthy on exit 0"
    )
    port: _PORT | None = Field(
        default=None, description="container port for http/tcp; default the service's port"
    )
    interval: Duration | None = Field(default=None, description="between checks (default 2s)")
    timeout: Duration | None = Field(default=None, description="per check (default 2s)")
    retries: Annotated[int, Field(ge=1, le=100, strict=True)] | None = Field(
        default=None, description="consecutive failures before unhealthy (default 3)"
    )
    startPeriod: Duration | None = Field(
        default=None, description="failures during this time after start do not count"
    )

    @field_validator("http")
    @classmethod
    def _http_path(cls, value: str | None) -> str | None:
        if value is not None and not _HTTP_PATH.fullmatch(value):
            raise ValueError("must be a path starting with / (no spaces), e.g. /healthz")
        return value

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1_000_000:
            raise ValueError("must be at least 1ms")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = [name for name in ("http", "tcp", "command") if getattr(self, name) is not None]
        if len(kinds) != 1:
            given = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"give exactly one of http, tcp or command (given: {given})")
        if self.command is not None and self.port is not None:
            raise ValueError("port is for http and tcp checks, not for command")
        return self


class ResourcesFields(StrictModel):
    """``resources:``: limits the engine enforces on each container."""

    memory: MemorySize | None = Field(default=None, description="memory limit, e.g. 256Mi")
    cpus: Annotated[float, Field(gt=0, le=1024)] | None = Field(
        default=None, description="CPU share, e.g. 0.5 for half a core"
    )
    pids: Annotated[int, Field(ge=1, le=MAX_PIDS_LIMIT, strict=True)] | None = Field(
        default=None, description=f"process limit (default {DEFAULT_PIDS_LIMIT})"
    )

    @field_validator("memory")
    @classmethod
    def _memory_floor(cls, value: int | None) -> int | None:
        if value is not None and value < MIN_MEMORY_BYTES:
            raise ValueError("the engine needs at least 6Mi of memory")
        return value

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpus_number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str | None):
            raise ValueError("must be a number of CPUs such as 0.5 or 2")
        return value


class PortFields(StrictModel):
    """One published port of ``ports:``."""

    container: _PORT = Field(description="port inside the container")
    host: _PORT | None = Field(
        default=None, description="fixed host port; default an ephemeral port"
    )
    address: str | None = Field(
        default=None,
        description="host address to publish on (default 127.0.0.1, or serve --publish-address)",
    )
    mode: Literal["host", "ingress"] | None = Field(
        default=None,
        description="Swarm only: host (default; on the node running the task) or ingress "
        "(Swarm's routing mesh, on every node); one engine always publishes on the host",
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError("must be an IP address such as 127.0.0.1 or 0.0.0.0") from None

    @model_validator(mode="after")
    def _ingress_has_no_address(self) -> Self:
        if self.mode == "ingress" and self.address is not None:
            raise ValueError(
                "an ingress port is published on every address of every node; drop address "
                "or use mode: host"
            )
        return self


LabelKey = Annotated[str, Field(min_length=1, max_length=255)]
LabelValue = Annotated[str, BeforeValidator(_label_value), Field(max_length=4096)]


class OptionFields(StrictModel):
    """The compose-like fields of a service; mixed into the manifest models.

    Every field defaults to None ("not written"), so the single-service form can tell which
    top-level fields were given; :func:`options_from` applies the defaults.
    """

    ports: list[PortFields] | None = Field(
        default=None,
        min_length=1,
        description="several published ports; `port`/`hostPort` are the short form of one",
    )
    healthcheck: HealthCheckFields | None = Field(
        default=None, description="the container's health check; gates every rollout"
    )
    restart: RestartPolicy | None = Field(
        default=None, description="engine restart policy (default unlessStopped)"
    )
    resources: ResourcesFields | None = None
    labels: dict[LabelKey, LabelValue] | None = Field(
        default=None, description="container labels; keys starting with gitberth. are reserved"
    )
    user: str | None = Field(default=None, description="user[:group] the process runs as")
    workingDir: str | None = Field(default=None, description="absolute working directory")
    entrypoint: list[str] | None = Field(default=None, description="overrides the image ENTRYPOINT")
    stopSignal: str | None = Field(default=None, description="signal that asks it to stop")
    stopGracePeriod: Duration | None = Field(
        default=None, description="time between the stop signal and SIGKILL"
    )

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key in value or {}:
            if key.lower().startswith("gitberth."):
                raise ValueError(f"label {key}: keys starting with gitberth. are gitberth's own")
            if not _LABEL_KEY.fullmatch(key):
                raise ValueError(
                    f"label {key!r}: use letters, digits, '.', '-', '_' and '/', "
                    "starting and ending with a letter or digit"
                )
        return value

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        if value is not None and not _USER.fullmatch(value):
            raise ValueError("must be a user name or uid, optionally :group, e.g. 1000:1000")
        return value

    @field_validator("workingDir")
    @classmethod
    def _working_dir(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or "\x00" in value):
            raise ValueError("must be an absolute path, e.g. /app")
        return value

    @field_validator("stopSignal")
    @classmethod
    def _stop_signal(cls, value: str | None) -> str | None:
        if value is None:
            return value
        name = value.upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name not in STOP_SIGNALS:
            raise ValueError("must be one of " + ", ".join(sorted(STOP_SIGNALS)))
        return name

    @field_validator("ports")
    @classmethod
    def _port_rules(
        cls, value: list[PortFields] | None, info: ValidationInfo
    ) -> list[PortFields] | None:
        check_port_forms(
            port=info.data.get("port"),
            host_port=info.data.get("hostPort"),
            ports=value,
            replicas=info.data.get("replicas") or 1,
        )
        return _distinct_ports(value)

    @field_validator("healthcheck")
    @classmethod
    def _healthcheck_port(
        cls, value: HealthCheckFields | None, info: ValidationInfo
    ) -> HealthCheckFields | None:
        # The multi-service form has no top-level image; its own error says where this goes.
        if value is not None and info.data.get("image") is not None:
            check_healthcheck_port(value, port=info.data.get("port"), ports=info.data.get("ports"))
        return value


def _distinct_ports(value: list[PortFields] | None) -> list[PortFields] | None:
    seen_container: set[int] = set()
    seen_host: set[int] = set()
    for port in value or ():
        if port.container in seen_container:
            raise ValueError(f"container port {port.container} is listed twice")
        seen_container.add(port.container)
        if port.host is not None:
            if port.host in seen_host:
                raise ValueError(f"host port {port.host} is listed twice")
            seen_host.add(port.host)
    return value


OPTION_FIELD_NAMES = tuple(OptionFields.model_fields)


def check_healthcheck_port(
    check: HealthCheckFields, *, port: int | None, ports: Sequence[PortFields] | None
) -> None:
    """An http or tcp check needs a port: its own, or the service's."""
    if check.command is not None or check.port is not None:
        return
    if port is None and not ports:
        kind = "an http" if check.http is not None else "a tcp"
        raise ValueError(
            f"{kind} check needs a port: set port (or ports) on the service, or healthcheck.port"
        )


def check_port_forms(
    *, port: int | None, host_port: int | None, ports: Sequence[PortFields] | None, replicas: int
) -> None:
    """``port``/``hostPort`` or ``ports``, never both; a fixed host port only with one replica."""
    if ports is not None and (port is not None or host_port is not None):
        raise ValueError("use either port/hostPort (one port) or ports (several), not both")
    for item in ports or ():
        if item.host is not None and replicas > 1:
            raise ValueError(
                f"a fixed host port ({item.host}) cannot be shared by replicas={replicas}; "
                "drop host or use replicas: 1"
            )
