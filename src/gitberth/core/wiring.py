"""How a service is wired to the rest of the engine: shared networks, volumes and bind mounts,
image pulls and the rollout strategy, with the rules that tie them together.

Kept apart from the manifest classes because these rules (a writable mount needs a stated
rollout, a fixed host port cannot start first) are one concern, shared by a service and the
top level of a single-service app, and the runtime reads the normalized :class:`VolumeSpec`.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from gitberth.core.field_types import DnsLabel, SecretName, StrictModel

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


class VolumeMount(StrictModel):
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


class WiringRules(StrictModel):
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


class WiringFields(WiringRules):
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


SERVICE_ONLY_WIRING = ("volumes", "rollout", "sharedVolumeOk")
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


def volume_specs(mounts: list[VolumeMount]) -> tuple[VolumeSpec, ...]:
    return tuple(VolumeSpec(m.path, m.readOnly, m.name, m.bind) for m in mounts)


def merged_networks(app_level: list[str], service_level: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*app_level, *service_level]))
