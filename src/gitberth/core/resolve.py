"""Resolve an app's secret references into per-service env and files, purely.

The caller (the reconciler or the deploy route) fetches the referenced secrets from the store
and passes them in as values; this module only applies the precedence rules of the guide:

* env: app-level ``envFrom`` in list order, then per-service ``envFrom`` in list order, then
  inline ``env`` — later wins;
* files: app-level then per-service ``secretFiles``, later wins on a clash;
* for one secret name, the app-scoped secret (appId == app name) beats the shared one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import SecretStr

from gitberth.core.errors import MissingSecretKeyError, SealedError, UnknownSecretError
from gitberth.core.fingerprint import spec_hash
from gitberth.core.models import AppManifest, ServiceSpec
from gitberth.core.option_fields import DEFAULT_PUBLISH_ADDRESS
from gitberth.core.resolved import (
    EnvSource,
    Origin,
    PullCredentials,
    ResolvedApp,
    ResolvedService,
    ResolvedValue,
)


@dataclass(frozen=True)
class SecretKeyMaterial:
    """One key of a decrypted secret: its value (starred in repr) and its HMAC fingerprint."""

    value: SecretStr
    fingerprint: str


@dataclass(frozen=True)
class SecretMaterial:
    """A decrypted secret as the store hands it over for resolution."""

    name: str
    app_id: str | None
    keys: Mapping[str, SecretKeyMaterial]


SecretKey = tuple[str | None, str]
"""``(appId or None for shared, secret name)``."""

Secrets = Mapping[SecretKey, SecretMaterial]

_Found = TypeVar("_Found")


def candidate_keys(manifest: AppManifest) -> tuple[SecretKey, ...]:
    """Every store entry that could satisfy this app's references, scoped and shared."""
    return tuple(
        key for name in manifest.secret_names() for key in ((manifest.name, name), (None, name))
    )


def pick_secret(app: str, name: str, secrets: Mapping[SecretKey, _Found]) -> _Found | None:
    """The app-scoped secret of that name if there is one, else the shared one.

    Generic over what a secret is here: decrypted material for the reconciler, or names and
    key names only for a review against a server's listing.
    """
    return secrets.get((app, name)) or secrets.get((None, name))


def missing_secrets(manifest: AppManifest, secrets: Mapping[SecretKey, object]) -> tuple[str, ...]:
    """Names this app references that exist in neither scope."""
    return tuple(
        name
        for name in manifest.secret_names()
        if pick_secret(manifest.name, name, secrets) is None
    )


def resolve_app(
    manifest: AppManifest,
    *,
    secrets: Secrets | None,
    publish_address: str = DEFAULT_PUBLISH_ADDRESS,
) -> ResolvedApp:
    """Resolve every service of *manifest*.

    *publish_address* is where ports that name no address are published (it enters the spec
    hash, so changing it moves the containers).

    *secrets* is ``None`` when the store is sealed or absent: an app that references no secret
    still resolves, one that does raises :class:`SealedError`. Unknown names raise
    :class:`UnknownSecretError` listing all of them at once.
    """
    if manifest.secret_names():
        if secrets is None:
            raise SealedError(
                f"app {manifest.name} uses secrets "
                + ", ".join(manifest.secret_names())
                + " and the secret store is sealed"
            )
        missing = missing_secrets(manifest, secrets)
        if missing:
            raise UnknownSecretError(missing)
    return ResolvedApp(
        name=manifest.name,
        services=tuple(
            resolve_service(spec, secrets=secrets or {}, publish_address=publish_address)
            for spec in manifest.service_specs()
        ),
    )


def resolve_service(
    spec: ServiceSpec, *, secrets: Secrets, publish_address: str = DEFAULT_PUBLISH_ADDRESS
) -> ResolvedService:
    env: dict[str, ResolvedValue] = {}
    for name in spec.env_from:
        env.update(_secret_values(spec.app, name, secrets))
    for key, value in spec.env:
        env[key] = ResolvedValue(SecretStr(value), Origin(EnvSource.INLINE), value)
    files: dict[str, ResolvedValue] = {}
    for name in spec.secret_files:
        files.update(_secret_values(spec.app, name, secrets))
    return ResolvedService(
        spec=spec,
        env=env,
        files=files,
        spec_hash=spec_hash(spec, env=env, files=files, publish_address=publish_address),
        pull_credentials=pull_credentials(spec, secrets=secrets),
    )


PULL_SECRET_KEYS = ("USERNAME", "PASSWORD")
PULL_SECRET_REGISTRY = "REGISTRY"


def pull_credentials(spec: ServiceSpec, *, secrets: Secrets) -> PullCredentials | None:
    """The registry login named by ``imagePullSecret`` (app-scoped beats shared, as for every
    secret); it must hold USERNAME and PASSWORD, and may name the REGISTRY (else the image's
    registry host is used)."""
    if spec.image_pull_secret is None:
        return None
    material = pick_secret(spec.app, spec.image_pull_secret, secrets)
    if material is None:
        raise UnknownSecretError([spec.image_pull_secret])
    lacking = [key for key in PULL_SECRET_KEYS if key not in material.keys]
    if lacking:
        raise MissingSecretKeyError(spec.image_pull_secret, lacking)
    registry = material.keys.get(PULL_SECRET_REGISTRY)
    used = [*PULL_SECRET_KEYS, *([PULL_SECRET_REGISTRY] if registry else [])]
    return PullCredentials(
        secret=spec.image_pull_secret,
        scope=material.app_id,
        username=material.keys["USERNAME"].value,
        password=material.keys["PASSWORD"].value,
        registry=registry.value.get_secret_value() if registry else None,
        fingerprint=":".join(material.keys[key].fingerprint for key in used),
    )


def redact(text: str, service: ResolvedService) -> str:
    """*text* (output a container wrote, e.g. its health check's) with every secret value the
    service receives replaced by the secret's name: an error or status must never carry one.
    Values shorter than 3 characters are left, as replacing them would garble any text."""
    values = {
        item.value.get_secret_value(): item.origin.describe()
        for item in (*service.env.values(), *service.files.values())
        if item.origin.secret is not None
    }
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, f"<{values[value]}>")
    return text


def _secret_values(app: str, name: str, secrets: Secrets) -> dict[str, ResolvedValue]:
    material = pick_secret(app, name, secrets)
    if material is None:
        raise UnknownSecretError([name])
    origin = Origin(EnvSource.SECRET, secret=name, scope=material.app_id)
    return {
        key: ResolvedValue(item.value, origin, item.fingerprint)
        for key, item in material.keys.items()
    }
