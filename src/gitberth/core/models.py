"""The manifest model (what users write) and the per-service spec every later stage reads.

The manifest classes mirror ``apps/<name>.yaml`` and the body of ``POST /deploy`` exactly, with
camelCase field names and unknown fields rejected; ``schemas/app.schema.json`` is generated from
:class:`AppManifest`. Everything after loading works on :class:`ServiceSpec` (one per service,
single- and multi-service apps alike) so no later stage has to care which form was written.
The compose-like container options (health check, restart, resources, labels, process, several
ports) live in :mod:`gitberth.core.option_fields` and are mixed into both forms; the field
types in :mod:`gitberth.core.field_types`, the networks/volumes/rollout rules in
:mod:`gitberth.core.wiring`. What resolution produces is in :mod:`gitberth.core.resolved`, what
the runtime observes in :mod:`gitberth.core.observed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

from pydantic import ConfigDict, Field, model_validator

from gitberth.core.container_options import ContainerOptions, PortBinding, options_from
from gitberth.core.field_types import (
    MAX_REPLICAS,
    DnsLabel,
    EnvName,
    EnvValue,
    HostPort,
    ImageReference,
    Port,
    Replicas,
    SecretName,
    StrictModel,
)

# Re-exported: gitberth.convert checks names with these under their long-standing import path.
from gitberth.core.field_types import is_dns_label as is_dns_label
from gitberth.core.field_types import is_env_name as is_env_name
from gitberth.core.option_fields import OPTION_FIELD_NAMES, OptionFields
from gitberth.core.wiring import (
    SERVICE_ONLY_WIRING,
    NetworkName,
    PullPolicy,
    RolloutStrategy,
    VolumeMount,
    VolumeSpec,
    WiringFields,
    WiringRules,
    merged_networks,
    volume_specs,
)


class _ServiceFields(StrictModel):
    image: ImageReference
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


class ServiceManifest(OptionFields, WiringFields, _ServiceFields):
    """One service of a multi-service app (option fields after wiring after core fields: the
    validators of later fields read earlier ones)."""

    name: DnsLabel


class _AppFields(StrictModel):
    name: DnsLabel
    envFrom: list[SecretName] = Field(
        default_factory=list, description="app-level: every service gets these secrets as env"
    )
    secretFiles: list[SecretName] = Field(
        default_factory=list, description="app-level: mounted in every service"
    )
    image: ImageReference | None = None
    port: Port | None = None
    env: dict[EnvName, EnvValue] | None = None
    command: list[str] | None = None
    replicas: Replicas | None = None
    hostPort: HostPort = None
    # networks, image pulls, volumes and rollout: see WiringFields (same fields, same rules)
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


class AppManifest(OptionFields, _AppFields, WiringRules):
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
        single.update({key: True for key in SERVICE_ONLY_WIRING if key in self.model_fields_set})
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
    fields: WiringFields | AppManifest, *, app_level: AppManifest, host_port: int | None
) -> dict[str, Any]:
    """The :class:`ServiceSpec` keyword arguments for networks, pulls, volumes and rollout;
    a service's own ``imagePullSecret`` and ``pull`` beat the app-level ones."""
    rollout = fields.rollout or ("stopFirst" if host_port is not None else "startFirst")
    networks = (
        tuple(fields.networks)
        if fields is app_level
        else merged_networks(app_level.networks, fields.networks)
    )
    return {
        "networks": networks,
        "image_pull_secret": fields.imagePullSecret or app_level.imagePullSecret,
        "pull": fields.pull or app_level.pull or "missing",
        "rollout": rollout,
        "shared_volume_ok": fields.sharedVolumeOk,
        "volumes": volume_specs(fields.volumes),
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

    # networks, image pulls, volumes and rollout (see WiringFields)
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
