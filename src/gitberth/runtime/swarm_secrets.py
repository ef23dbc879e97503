"""Swarm secrets for ``secretFiles``: one immutable, content-addressed version per file.

Swarm keeps secrets encrypted in its Raft log and mounts them in RAM at ``/run/secrets`` on the
nodes that run a consumer, so gitberth needs no secrets directory of its own there. A Swarm
secret cannot change, so every value gets its own version, named
``<app>-<secret>-<fingerprint8>``: the fingerprint is derived from the store's HMAC of the value
(and the key it is mounted as), never from the value itself. A new value is a new name, so the
spec of exactly the services that mount it changes, and Swarm updates exactly those. A version
no service references any more is removed after the pass that replaced it.

Everything here is pure (names, labels, references); the engine calls live in
:mod:`gitberth.runtime.swarm`. The value itself leaves the store only as the ``data`` of the
engine's own secret create call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gitberth.core.resolved import ResolvedService, ResolvedValue
from gitberth.core.secret_versions import fingerprint8, version_name
from gitberth.runtime.base import LABEL_MANAGED, resource_labels

LABEL_SECRET = "gitberth.secret"
LABEL_SECRET_KEY = "gitberth.secret-key"
LABEL_FINGERPRINT = "gitberth.fingerprint"
FILE_MODE = 0o400


@dataclass(frozen=True)
class SecretVersion:
    """One file of one service as a Swarm secret: which version, mounted where."""

    name: str
    key: str
    labels: Mapping[str, str]
    value: ResolvedValue

    @property
    def target(self) -> str:
        """The file name under ``/run/secrets``."""
        return self.key


def versions_for(service: ResolvedService, *, source: str) -> tuple[SecretVersion, ...]:
    """The Swarm secret versions *service* mounts, one per file, in file order."""
    versions = []
    for key, value in sorted(service.files.items()):
        secret = value.origin.secret or "inline"
        fingerprint = fingerprint8(key, value)
        labels = resource_labels(
            source=source,
            app=service.app,
            **{
                LABEL_MANAGED: "true",
                LABEL_SECRET: secret,
                LABEL_SECRET_KEY: key,
                LABEL_FINGERPRINT: fingerprint,
            },
        )
        name = version_name(app=service.app, secret=secret, fingerprint=fingerprint)
        versions.append(SecretVersion(name=name, key=key, labels=labels, value=value))
    return tuple(versions)


def secret_reference(version: SecretVersion, *, secret_id: str, uid: str) -> dict[str, object]:
    """The ``Secrets`` entry of a container spec: ``/run/secrets/<KEY>``, mode 0400, owned by
    the user the service runs as (numeric, else root)."""
    return {
        "SecretID": secret_id,
        "SecretName": version.name,
        "File": {"Name": version.target, "UID": uid, "GID": uid, "Mode": FILE_MODE},
    }


def numeric_owner(user: str | None) -> str:
    """The uid a secret file is owned by: a numeric ``user[:group]`` of the manifest, else 0
    (Swarm resolves no user names; a named user needs a numeric ``user`` to read its files)."""
    if user is None:
        return "0"
    uid = user.split(":", 1)[0]
    return uid if uid.isdigit() else "0"
