"""How a service's containers run: health check, restart policy, limits, labels, process and
published ports, from manifest fields to the normalized values every later stage reads.

These fields come from docker compose (camelCased) and are kept together here, apart from the
secret-related manifest fields, so that the spec hash, the value-free summary, the plan's
reasons and the review all read one :class:`ContainerOptions` value. The manifest classes
mix :class:`OptionFields` in, both per service and at the top level of a single-service app.

Fields that would give whoever can merge a manifest root on the host (``privileged``,
``capAdd``, ``devices``, the host's network/PID/IPC namespaces, ...) are not fields at all;
:data:`REFUSED_FIELDS` says why each is refused, so the error is more than "unknown field".
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class HealthCheckFields(_Strict):
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


class ResourcesFields(_Strict):
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


class PortFields(_Strict):
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


class OptionFields(_Strict):
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


# --- normalized values ----------------------------------------------------------------------


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
    """Everything of :class:`OptionFields` with defaults applied; part of the spec hash."""

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


# --- hash, summary and reasons ----------------------------------------------------------------


def hash_document(options: ContainerOptions) -> dict[str, Any]:
    """What of *options* defines a running container, for :mod:`gitberth.core.fingerprint`."""
    check = options.healthcheck
    return {
        "healthcheck": None
        if check is None
        else {
            "test": check.test,
            "interval": check.interval_ns,
            "timeout": check.timeout_ns,
            "retries": check.retries,
            "startPeriod": check.start_period_ns,
        },
        "restart": options.restart.value,
        "memory": options.memory,
        "cpus": options.cpus,
        "pids": options.pids,
        "labels": dict(options.labels),
        "user": options.user,
        "workingDir": options.working_dir,
        "entrypoint": list(options.entrypoint) if options.entrypoint is not None else None,
        "stopSignal": options.stop_signal,
        "stopGracePeriod": options.stop_grace_ns,
        # the mode enters only when written, so the hash of every existing spec stays
        "ports": [
            [p.container, p.host, p.address, *([p.mode] if p.mode else [])] for p in options.ports
        ],
    }


SUMMARY_FIELDS = (
    "healthcheck",
    "restart",
    "resources.memory",
    "resources.cpus",
    "resources.pids",
    "user",
    "workingDir",
    "entrypoint",
    "stopSignal",
    "stopGracePeriod",
    "ports",
)
"""Summary keys of :func:`summary` (besides ``labels``), in manifest order."""


def summary(options: ContainerOptions) -> dict[str, Any]:
    """Manifest text of every option (all of it is in Git already; no secret can be here)."""
    return {
        "healthcheck": options.healthcheck.describe() if options.healthcheck else None,
        "restart": options.restart.value,
        "resources.memory": format_bytes(options.memory) if options.memory is not None else None,
        "resources.cpus": f"{options.cpus:g}" if options.cpus is not None else None,
        "resources.pids": str(options.pids),
        "labels": dict(options.labels),
        "user": options.user,
        "workingDir": options.working_dir,
        "entrypoint": " ".join(options.entrypoint) if options.entrypoint is not None else None,
        "stopSignal": options.stop_signal,
        "stopGracePeriod": format_duration(options.stop_grace_ns)
        if options.stop_grace_ns is not None
        else None,
        "ports": ", ".join(p.describe() for p in options.ports) if options.ports else None,
    }


@dataclass(frozen=True)
class OptionChange:
    """One option that differs: ``key`` names the label for ``labels``."""

    field: str
    key: str | None
    before: str | None
    after: str | None
    text: str


def option_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[OptionChange]:
    """Differences between the option parts of two spec summaries, in words.

    Summaries made before these options existed lack the keys; they read as the defaults, so
    an upgrade does not claim that every field changed.
    """
    defaults = summary(ContainerOptions())
    changes: list[OptionChange] = []
    for name in SUMMARY_FIELDS:
        before, after = old.get(name, defaults[name]), new.get(name, defaults[name])
        if before == after:
            continue
        if name == "healthcheck":
            text = _health_text(before, after)
        else:
            text = f"{name} {_show(before)} -> {_show(after)}"
        changes.append(OptionChange(name, None, before, after, text))
    old_labels: Mapping[str, str] = old.get("labels") or {}
    new_labels: Mapping[str, str] = new.get("labels") or {}
    for key in sorted(set(old_labels) | set(new_labels)):
        before, after = old_labels.get(key), new_labels.get(key)
        if before == after:
            continue
        if before is None:
            text = f"label {key} added: {after}"
        elif after is None:
            text = f"label {key} removed (was: {before})"
        else:
            text = f"label {key} changed: {before} -> {after}"
        changes.append(OptionChange("labels", key, before, after, text))
    return changes


def predates_options(summary_of_old: Mapping[str, Any]) -> bool:
    """True for a summary written before container options entered the spec hash."""
    return "restart" not in summary_of_old


UPGRADE_REASON = (
    "the spec hash now covers container options (restart policy, pids limit, "
    "no-new-privileges) and the app's own network: replaced once after upgrading gitberth"
)


def _health_text(before: str | None, after: str | None) -> str:
    if before is None:
        return f"healthcheck added: {after}"
    if after is None:
        return f"healthcheck removed (was: {before})"
    return f"healthcheck changed: {before} -> {after}"


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


# --- the server's publishing policy -----------------------------------------------------------


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
