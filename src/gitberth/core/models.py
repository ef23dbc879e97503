"""The manifest model (what users write) and the normalized values the planner works on.

The manifest classes mirror ``apps/<name>.yaml`` and the body of ``POST /deploy`` exactly, with
camelCase field names and unknown fields rejected; ``schemas/app.schema.json`` is generated from
:class:`AppManifest`. Everything after loading works on :class:`ServiceSpec` (one per service,
single- and multi-service apps alike) so no later stage has to care which form was written.
The compose-like container options (health check, restart, resources, labels, process, several
ports) live in :mod:`gitberth.core.container_options` and are mixed into both forms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gitberth.core import container_options
from gitberth.core.container_options import (
    OPTION_FIELD_NAMES,
    ContainerOptions,
    OptionFields,
    PortBinding,
    options_from,
)

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)
_ENV_NAME = re.compile(ENV_NAME_PATTERN)

DnsLabel = Annotated[
    str,
    Field(
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="DNS label: lowercase letters, digits and '-', at most 63 characters",
    ),
]
SecretName = DnsLabel
EnvName = Annotated[str, Field(pattern=ENV_NAME_PATTERN, max_length=255)]
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
MAX_REPLICAS = 100
"""Containers per service: more is almost certainly a typo, and would exhaust a single engine."""
Replicas = Annotated[int, Field(ge=0, le=MAX_REPLICAS, strict=True)]


def is_dns_label(value: str) -> bool:
    """True when *value* is usable as an app, service or secret name."""
    return len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def is_env_name(value: str) -> bool:
    """True when *value* is usable as an environment variable and a file name."""
    return len(value) <= 255 and _ENV_NAME.fullmatch(value) is not None


def _scalar_to_str(value: Any) -> Any:
    """Accept YAML numbers and booleans as env values, the way compose does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


EnvValue = Annotated[str, BeforeValidator(_scalar_to_str)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class _ServiceFields(_Strict):
    image: Annotated[str, Field(min_length=1, description="image reference, e.g. acme/web:1.0")]
    port: Port | None = Field(default=None, description="container port, published on 127.0.0.1")
    env: dict[EnvName, EnvValue] = Field(
        default_factory=dict, description="inline environment; always wins over envFrom"
    )
    command: list[str] | None = Field(default=None, description="overrides the image CMD")
    replicas: Replicas = Field(
        default=1, description=f"number of containers (at most {MAX_REPLICAS})"
    )
    envFrom: list[SecretName] = Field(
        default_factory=list, description="secrets whose every key becomes an env var"
    )
    secretFiles: list[SecretName] = Field(
        default_factory=list, description="secrets whose every key is a file in /run/secrets"
    )
    hostPort: Port | None = Field(
        default=None,
        description="fixed host port for `port`; default is an ephemeral port",
    )

    @field_validator("hostPort")
    @classmethod
    def _host_port_rules(cls, value: int | None, info: ValidationInfo) -> int | None:
        _check_host_port(info.data.get("port"), value, info.data.get("replicas") or 1)
        return value


def _check_host_port(port: int | None, host_port: int | None, replicas: int) -> None:
    if host_port is not None and port is None:
        raise ValueError("hostPort needs port")
    if host_port is not None and replicas > 1:
        raise ValueError(
            f"a fixed hostPort cannot be shared by replicas={replicas}; "
            "drop hostPort or use replicas: 1"
        )


class ServiceManifest(OptionFields, _ServiceFields):
    """One service of a multi-service app (its option fields follow its core fields)."""

    name: DnsLabel


class _AppFields(_Strict):
    name: DnsLabel
    envFrom: list[SecretName] = Field(
        default_factory=list, description="app-level: every service gets these secrets as env"
    )
    secretFiles: list[SecretName] = Field(
        default_factory=list, description="app-level: mounted in every service"
    )
    image: str | None = Field(default=None, min_length=1)
    port: Port | None = None
    env: dict[EnvName, EnvValue] | None = None
    command: list[str] | None = None
    replicas: Replicas | None = None
    hostPort: Port | None = None
    services: list[ServiceManifest] | None = Field(default=None, min_length=1)


class AppManifest(OptionFields, _AppFields):
    """An app: ``apps/<name>.yaml``, or the body of ``POST /deploy``.

    Either a single-service app (``image`` and friends at the top level) or a multi-service app
    (``services:``), never both.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="gitberth app manifest",
        json_schema_extra={"additionalProperties": False},
    )

    @field_validator("hostPort")
    @classmethod
    def _host_port_rules(cls, value: int | None, info: ValidationInfo) -> int | None:
        _check_host_port(info.data.get("port"), value, info.data.get("replicas") or 1)
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        single = {
            key: getattr(self, key)
            for key in ("image", "port", "hostPort", "env", "command", "replicas")
            + OPTION_FIELD_NAMES
            if getattr(self, key) is not None
        }
        if self.services is None:
            if self.image is None:
                raise ValueError("an app needs either `image` (single service) or `services`")
            return self
        if single:
            raise ValueError(
                "put " + ", ".join(sorted(single)) + " inside a service when `services` is used"
            )
        seen: set[str] = set()
        for service in self.services:
            if service.name in seen:
                raise ValueError(f"service name {service.name!r} is used twice")
            seen.add(service.name)
        return self

    @property
    def is_single_service(self) -> bool:
        return self.services is None

    def service_specs(self) -> tuple[ServiceSpec, ...]:
        """Normalize both forms into one :class:`ServiceSpec` per service."""
        if self.services is None:
            assert self.image is not None
            return (
                ServiceSpec(
                    app=self.name,
                    service=self.name,
                    image=self.image,
                    port=self.port,
                    host_port=self.hostPort,
                    env=tuple(sorted((self.env or {}).items())),
                    command=tuple(self.command) if self.command is not None else None,
                    replicas=1 if self.replicas is None else self.replicas,
                    env_from=tuple(self.envFrom),
                    secret_files=tuple(self.secretFiles),
                    single_service=True,
                    options=options_from(self, port=self.port),
                ),
            )
        return tuple(
            ServiceSpec(
                app=self.name,
                service=s.name,
                image=s.image,
                port=s.port,
                host_port=s.hostPort,
                env=tuple(sorted(s.env.items())),
                command=tuple(s.command) if s.command is not None else None,
                replicas=s.replicas,
                env_from=tuple(self.envFrom) + tuple(s.envFrom),
                secret_files=tuple(self.secretFiles) + tuple(s.secretFiles),
                single_service=False,
                options=options_from(s, port=s.port),
            )
            for s in self.services
        )

    def secret_names(self) -> tuple[str, ...]:
        """Every secret this app references, app-level and per-service, sorted."""
        names = set(self.envFrom) | set(self.secretFiles)
        for service in self.services or ():
            names |= set(service.envFrom) | set(service.secretFiles)
        return tuple(sorted(names))


@dataclass(frozen=True)
class ServiceSpec:
    """One service as the manifest asks for it, before secrets are resolved.

    ``env_from`` and ``secret_files`` are already in precedence order: app-level entries first,
    then per-service entries; later wins.
    """

    app: str
    service: str
    image: str
    port: int | None
    host_port: int | None
    env: tuple[tuple[str, str], ...]
    command: tuple[str, ...] | None
    replicas: int
    env_from: tuple[str, ...] = ()
    secret_files: tuple[str, ...] = ()
    single_service: bool = False
    options: ContainerOptions = field(default_factory=ContainerOptions)
    """Health check, restart policy, limits, labels, process and the long form of ports."""

    @property
    def published_ports(self) -> tuple[PortBinding, ...]:
        """Every published port: the ``ports`` list, or the one of ``port``/``hostPort``."""
        if self.options.ports:
            return self.options.ports
        if self.port is None:
            return ()
        return (PortBinding(container=self.port, host=self.host_port),)

    @property
    def fixed_host_ports(self) -> tuple[int, ...]:
        """Host ports that two containers could not share (they force stop-first)."""
        return tuple(p.host for p in self.published_ports if p.host is not None)

    @property
    def container_base(self) -> str:
        """``<app>`` for a single-service app, ``<app>-<service>`` otherwise."""
        return container_base(self.app, self.service)

    def container_name(self, replica: int) -> str:
        return f"{self.container_base}-{replica}"


def container_base(app: str, service: str) -> str:
    """Container name prefix; replicas append ``-<n>`` counting from 1.

    A single-service app's only service carries the app's name, so its containers are
    ``<app>-<n>``; services of a multi-service app are ``<app>-<service>-<n>``.
    """
    return app if service == app else f"{app}-{service}"


class EnvSource(StrEnum):
    INLINE = "inline"
    SECRET = "secret"


@dataclass(frozen=True)
class Origin:
    """Where one env variable or file came from; names only, never the value."""

    source: EnvSource
    secret: str | None = None
    scope: str | None = None  # the appId for an app-scoped secret, None for shared

    def describe(self) -> str:
        if self.source is EnvSource.INLINE:
            return "inline env"
        scope = f"app {self.scope}" if self.scope else "shared"
        return f"secret {self.secret} ({scope})"


@dataclass(frozen=True)
class ResolvedValue:
    """A resolved env value or file content with its origin and a value fingerprint.

    ``value`` is a :class:`~pydantic.SecretStr` so that repr, logs and tracebacks show stars.
    ``fingerprint`` is the inline value itself for inline env (it is in Git anyway) and an
    HMAC of the value for secrets.
    """

    value: SecretStr
    origin: Origin
    fingerprint: str


@dataclass(frozen=True)
class ResolvedService:
    """A service with every value it needs to run, and the hash that identifies that spec."""

    spec: ServiceSpec
    env: Mapping[str, ResolvedValue]
    files: Mapping[str, ResolvedValue]
    spec_hash: str

    @property
    def app(self) -> str:
        return self.spec.app

    @property
    def service(self) -> str:
        return self.spec.service

    def describe(self) -> dict[str, Any]:
        """A value-free description of this spec, for plans, status and field diffs."""
        return spec_summary(self.spec, env=self.env, files=self.files)


def spec_summary(
    spec: ServiceSpec,
    *,
    env: Mapping[str, ResolvedValue],
    files: Mapping[str, ResolvedValue],
) -> dict[str, Any]:
    """Describe a resolved service without any secret value.

    Inline env values are shown (they are in Git already); secret-sourced variables and files
    show only the secret they came from and a short fingerprint, so a change is visible
    without the value.
    """

    def show(item: ResolvedValue) -> str:
        if item.origin.source is EnvSource.INLINE:
            return item.value.get_secret_value()
        return f"<{item.origin.describe()} #{item.fingerprint[:12]}>"

    return {
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "port": spec.port,
        "hostPort": spec.host_port,
        "env": {name: show(item) for name, item in sorted(env.items())},
        "files": {name: show(item) for name, item in sorted(files.items())},
        **container_options.summary(spec.options),
    }


@dataclass(frozen=True)
class ResolvedApp:
    """An app whose every service is resolved and ready to plan."""

    name: str
    services: tuple[ResolvedService, ...]


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
class ObservedContainer:
    """A container carrying gitberth labels, as one engine list call reports it."""

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
