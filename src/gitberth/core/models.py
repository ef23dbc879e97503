"""The manifest model (what users write) and the normalized values the planner works on.

The manifest classes mirror ``apps/<name>.yaml`` and the body of ``POST /deploy`` exactly, with
camelCase field names and unknown fields rejected; ``schemas/app.schema.json`` is generated from
:class:`AppManifest`. Everything after loading works on :class:`ServiceSpec` (one per service,
single- and multi-service apps alike) so no later stage has to care which form was written.
The compose-like container options (health check, restart, resources, labels, process, several
ports) live in :mod:`gitberth.core.container_options` and are mixed into both forms.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
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


def _check_host_port(port: int | None, host_port: int | None, replicas: int) -> None:
    if host_port is not None and port is None:
        raise ValueError("hostPort needs port")
    if host_port is not None and replicas > 1:
        raise ValueError(
            f"a fixed hostPort cannot be shared by replicas={replicas}; "
            "drop hostPort or use replicas: 1"
        )


def _host_port_rules(value: int | None, info: ValidationInfo) -> int | None:
    """A fixed host port needs a container port and one replica (both declared before it)."""
    _check_host_port(info.data.get("port"), value, info.data.get("replicas") or 1)
    return value


HostPort = Annotated[Port | None, AfterValidator(_host_port_rules)]
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
    hostPort: HostPort = Field(
        default=None,
        description="fixed host port for `port`; default is an ephemeral port",
    )


# --- networks, volumes and image pulls (kept together: one concern, one block) ---------------

PullPolicy = Literal["missing", "always"]
RolloutStrategy = Literal["startFirst", "stopFirst"]
RESERVED_NETWORK_NAMES = frozenset({"bridge", "host", "none", "default", "ingress"})
"""Names the engine gives its own networks; a shared network can never take one."""
VOLUME_SEPARATOR = "_"
"""``<app>_<volume>``: the engine volume name (as docker compose names project volumes)."""


def _check_network_name(value: str) -> str:
    if value in RESERVED_NETWORK_NAMES:
        raise ValueError(f"{value!r} is one of the engine's own networks; pick another name")
    if value.startswith("gitberth"):
        raise ValueError("names starting with 'gitberth' are kept for the apps' own networks")
    return value


NetworkName = Annotated[
    DnsLabel,
    AfterValidator(_check_network_name),
    Field(description="a shared network, created and removed by gitberth"),
]


def _check_absolute_path(value: str, *, what: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"{what} must be an absolute path")
    if "\0" in value:
        raise ValueError(f"{what} must not contain NUL")
    if ".." in value.split("/"):
        raise ValueError(f"{what} must not contain '..'")
    return value


class VolumeMount(_Strict):
    """One mount: a named volume owned by the app (``name``) or a host path (``bind``)."""

    name: DnsLabel | None = Field(
        default=None, description="a volume owned by the app; its data outlives every deploy"
    )
    bind: str | None = Field(
        default=None,
        description="a host path; refused unless the server allows it (--allow-bind-under)",
    )
    path: str = Field(description="where it is mounted in the container (absolute)")
    readOnly: bool = Field(default=False, description="mount read-only")

    @field_validator("bind")
    @classmethod
    def _bind_path(cls, value: str | None) -> str | None:
        return None if value is None else _check_absolute_path(value, what="bind")

    @field_validator("path")
    @classmethod
    def _mount_path(cls, value: str) -> str:
        _check_absolute_path(value, what="path")
        normalized = posixpath.normpath(value)
        if normalized == "/":
            raise ValueError("a volume cannot be mounted at /")
        if normalized == SECRETS_DIR or normalized.startswith(SECRETS_DIR + "/"):
            raise ValueError(f"{SECRETS_DIR} is where secretFiles are mounted")
        return normalized

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.name is None) == (self.bind is None):
            raise ValueError("a volume needs exactly one of `name` (a named volume) or `bind`")
        return self


SECRETS_DIR = "/run/secrets"


def _check_mounts(
    mounts: list[VolumeMount],
    *,
    rollout: str | None,
    shared_volume_ok: bool,
    host_port: int | None,
) -> list[VolumeMount]:
    """Mount paths are unique, and a service that writes to a mount says what a replacement
    does: two containers writing one volume at once must never happen by surprise."""
    seen: dict[str, str] = {}
    for mount in mounts:
        source = mount.name or mount.bind or ""
        if mount.path in seen:
            raise ValueError(f"{seen[mount.path]} and {source} are both mounted at {mount.path}")
        seen[mount.path] = source
    writable = [m.name or m.bind for m in mounts if not m.readOnly]
    stop_first = rollout == "stopFirst" or (rollout is None and host_port is not None)
    if writable and not stop_first and not shared_volume_ok:
        raise ValueError(
            f"{', '.join(str(w) for w in writable)} is mounted writable, so say how a replacement "
            "treats it: `rollout: stopFirst` stops the old container before the new one starts "
            "(a short outage, never two writers), or `sharedVolumeOk: true` keeps start-first "
            "(old and new run on the same data for a moment)"
        )
    return mounts


def _check_rollout(rollout: str | None, *, host_port: int | None) -> str | None:
    if rollout == "startFirst" and host_port is not None:
        raise ValueError(
            "a fixed hostPort cannot be held by the old and the new container at once; "
            "use rollout: stopFirst or drop hostPort"
        )
    return rollout


class _WiringRules(_Strict):
    """The rollout and mount rules, shared by a service and the top level of an app (both carry
    the wiring fields; the rules read ``hostPort``, declared before them)."""

    @field_validator("rollout", check_fields=False)
    @classmethod
    def _rollout_rules(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_rollout(value, host_port=info.data.get("hostPort"))

    @field_validator("volumes", check_fields=False)
    @classmethod
    def _volume_rules(cls, value: list[VolumeMount], info: ValidationInfo) -> list[VolumeMount]:
        return _check_mounts(
            value,
            rollout=info.data.get("rollout"),
            shared_volume_ok=bool(info.data.get("sharedVolumeOk")),
            host_port=info.data.get("hostPort"),
        )


class _WiringFields(_WiringRules):
    """Networks, image pulls, volumes and rollout of one service (the top level of a
    single-service app, or one entry of ``services``)."""

    networks: list[NetworkName] = Field(
        default_factory=list,
        description="extra shared networks to join; every app has its own network already",
    )
    imagePullSecret: SecretName | None = Field(
        default=None,
        description="a secret with USERNAME and PASSWORD (optional REGISTRY) for pulling the image",
    )
    pull: PullPolicy | None = Field(
        default=None,
        description="missing (default): pull only when the engine lacks the image; "
        "always: pull before every container start",
    )
    rollout: RolloutStrategy | None = Field(
        default=None,
        description="startFirst (default; stopFirst with a fixed hostPort) or stopFirst",
    )
    sharedVolumeOk: bool = Field(
        default=False,
        description="start-first replacement may run old and new on the same writable volume",
    )
    volumes: list[VolumeMount] = Field(
        default_factory=list, description="named volumes of the app, or allowed host paths"
    )


_SERVICE_ONLY_WIRING = ("volumes", "rollout", "sharedVolumeOk")
"""Wiring fields that belong to one service; networks, imagePullSecret and pull may also be
set at the app level of a multi-service app (every service gets them)."""


@dataclass(frozen=True)
class VolumeSpec:
    """A normalized mount: ``name`` for the app's own volume, ``bind`` for a host path."""

    path: str
    read_only: bool = False
    name: str | None = None
    bind: str | None = None

    def engine_name(self, app: str) -> str | None:
        """The engine volume behind a named mount (``<app>_<name>``); None for a bind."""
        return volume_engine_name(app, self.name) if self.name is not None else None

    def describe(self) -> str:
        mode = " (read-only)" if self.read_only else ""
        if self.name is not None:
            return f"volume {self.name} at {self.path}{mode}"
        return f"bind {self.bind} at {self.path}{mode}"


def volume_engine_name(app: str, volume: str) -> str:
    return f"{app}{VOLUME_SEPARATOR}{volume}"


def app_network_name(app: str) -> str:
    """The app's own network: its services find each other there by service name."""
    return f"gitberth-{app}"


def _volume_specs(mounts: list[VolumeMount]) -> tuple[VolumeSpec, ...]:
    return tuple(VolumeSpec(m.path, m.readOnly, m.name, m.bind) for m in mounts)


def _merged_networks(app_level: list[str], service_level: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*app_level, *service_level]))


class ServiceManifest(OptionFields, _WiringFields, _ServiceFields):
    """One service of a multi-service app (option fields after wiring after core fields: the
    validators of later fields read earlier ones)."""

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
    hostPort: HostPort = None
    # networks, image pulls, volumes and rollout: see _WiringFields (same fields, same rules)
    networks: list[NetworkName] = Field(
        default_factory=list, description="app-level: every service joins these shared networks"
    )
    imagePullSecret: SecretName | None = Field(
        default=None, description="app-level: pull credentials for every service's image"
    )
    pull: PullPolicy | None = Field(default=None, description="app-level: pull policy")
    rollout: RolloutStrategy | None = None
    sharedVolumeOk: bool = False
    volumes: list[VolumeMount] = Field(default_factory=list)
    services: list[ServiceManifest] | None = Field(default=None, min_length=1)


class AppManifest(OptionFields, _AppFields, _WiringRules):
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
        single.update({key: True for key in _SERVICE_ONLY_WIRING if key in self.model_fields_set})
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
                    **_wiring_spec(self, app_level=self, host_port=self.hostPort),
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
                **_wiring_spec(s, app_level=self, host_port=s.hostPort),
            )
            for s in self.services
        )

    def secret_names(self) -> tuple[str, ...]:
        """Every secret this app references, app-level and per-service, sorted."""
        names = set(self.envFrom) | set(self.secretFiles) | set(self.pull_secret_names())
        for service in self.services or ():
            names |= set(service.envFrom) | set(service.secretFiles)
        return tuple(sorted(names))

    def pull_secret_names(self) -> tuple[str, ...]:
        """The secrets named by ``imagePullSecret``, app-level and per service, sorted."""
        names = {self.imagePullSecret} | {s.imagePullSecret for s in self.services or ()}
        return tuple(sorted(name for name in names if name is not None))


def _wiring_spec(
    fields: _WiringFields | AppManifest, *, app_level: AppManifest, host_port: int | None
) -> dict[str, Any]:
    """The :class:`ServiceSpec` keyword arguments for networks, pulls, volumes and rollout;
    a service's own ``imagePullSecret`` and ``pull`` beat the app-level ones."""
    rollout = fields.rollout or ("stopFirst" if host_port is not None else "startFirst")
    networks = (
        tuple(fields.networks)
        if fields is app_level
        else _merged_networks(app_level.networks, fields.networks)
    )
    return {
        "networks": networks,
        "image_pull_secret": fields.imagePullSecret or app_level.imagePullSecret,
        "pull": fields.pull or app_level.pull or "missing",
        "rollout": rollout,
        "shared_volume_ok": fields.sharedVolumeOk,
        "volumes": _volume_specs(fields.volumes),
    }


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

    # networks, image pulls, volumes and rollout (see _WiringFields)
    networks: tuple[str, ...] = ()
    """Extra shared networks; the app's own network (:func:`app_network_name`) is implied."""
    image_pull_secret: str | None = None
    pull: str = "missing"
    rollout: str = "startFirst"
    """The effective strategy: stopFirst when asked for or when a fixed hostPort is set."""
    shared_volume_ok: bool = False
    volumes: tuple[VolumeSpec, ...] = ()

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
class SecretSourced:
    """A secret-sourced env variable or file as a spec summary holds it: which secret, in which
    scope, and a short fingerprint of the value, never the value.

    Typed so the planner tells where a value came from by looking, not by parsing text; it is
    rendered only at the edges: ``str()`` for people, :meth:`to_document` for the spec ledger.
    """

    secret: str
    scope: str | None  # the appId for an app-scoped secret, None for shared
    fingerprint: str  # the first characters of the value's HMAC: shows a change, hides the value

    @property
    def source(self) -> str:
        """``secret db-creds, shared`` or ``secret db-creds, app web``, for a plan's reason."""
        return f"secret {self.secret}, {f'app {self.scope}' if self.scope else 'shared'}"

    def __str__(self) -> str:
        scope = f"app {self.scope}" if self.scope else "shared"
        return f"<secret {self.secret} ({scope}) #{self.fingerprint}>"

    def to_document(self) -> dict[str, str | None]:
        return {"secret": self.secret, "scope": self.scope, "fingerprint": self.fingerprint}


SummaryValue = str | SecretSourced
"""One env variable or file of a spec summary: an inline value (it is in Git already), or where a
secret-sourced one came from."""


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
class PullCredentials:
    """Registry credentials from an ``imagePullSecret``; they go to the engine's pull call
    only. Values are :class:`~pydantic.SecretStr`, so repr, logs and tracebacks show stars;
    ``fingerprint`` (HMACs of the values) tells two sets of credentials apart without them."""

    secret: str
    scope: str | None
    username: SecretStr
    password: SecretStr
    registry: str | None
    fingerprint: str


@dataclass(frozen=True)
class ResolvedService:
    """A service with every value it needs to run, and the hash that identifies that spec."""

    spec: ServiceSpec
    env: Mapping[str, ResolvedValue]
    files: Mapping[str, ResolvedValue]
    spec_hash: str
    pull_credentials: PullCredentials | None = None
    """Not part of the spec hash: new credentials never restart a container."""

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
    are a :class:`SecretSourced`: only the secret they came from and a short fingerprint, so a
    change is visible without the value.
    """

    def show(item: ResolvedValue) -> SummaryValue:
        if item.origin.source is EnvSource.INLINE:
            return item.value.get_secret_value()
        assert item.origin.secret is not None  # a secret origin always names its secret
        return SecretSourced(item.origin.secret, item.origin.scope, item.fingerprint[:12])

    return {
        **spec_basics(spec),
        "env": {name: show(item) for name, item in sorted(env.items())},
        "files": {name: show(item) for name, item in sorted(files.items())},
        **container_options.summary(spec.options),
        **wiring_summary(spec),
    }


def spec_basics(spec: ServiceSpec) -> dict[str, Any]:
    """Image, command and ports: the secret-free head that the spec hash, a plan's summary and a
    review's comparison share, under the same keys, so all three read a change alike."""
    return {
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "port": spec.port,
        "hostPort": spec.host_port,
    }


def wiring_summary(spec: ServiceSpec) -> dict[str, Any]:
    """Networks, mounts, pulls and rollout of *spec*, in words a plan can compare; names only
    (a pull secret is named, its keys never appear)."""
    return {
        "networks": list(spec.networks),
        "volumes": {m.path: m.describe() for m in spec.volumes},
        "pull": spec.pull,
        "imagePullSecret": spec.image_pull_secret,
        "rollout": spec.rollout,
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
