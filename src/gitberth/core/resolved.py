"""What the planner works on once secrets are resolved: each service's spec with the env and
files it gets, where every value came from, and the value-free summary stored on containers.

Apart from the manifest model because this is the output of resolution, not what users write;
values here are :class:`~pydantic.SecretStr` and never leave this shape in plaintext.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import SecretStr

from gitberth.core import option_changes
from gitberth.core.models import ServiceSpec


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
        **option_changes.summary(spec.options),
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
