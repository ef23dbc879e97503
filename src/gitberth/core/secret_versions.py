"""Names of immutable secret versions (the Swarm runtime's secrets), computed purely.

A Swarm secret cannot change, so each file value is its own version named
``<app>-<secret>-<fingerprint8>``. The eight hex digits come from the store's HMAC fingerprint
of the value (and the key it is mounted as), never from the value, so a plan can name the
version a change creates and a reviewer sees which services mount it.
"""

from __future__ import annotations

import hashlib

from gitberth.core.resolved import ResolvedValue

MAX_NAME = 64
"""Swarm's limit on a secret's name."""


def fingerprint8(key: str, value: ResolvedValue) -> str:
    """Eight hex digits that change exactly when the file's key or value changes."""
    return hashlib.sha256(f"{key}\0{value.fingerprint}".encode()).hexdigest()[:8]


def version_name(*, app: str, secret: str, fingerprint: str) -> str:
    """``<app>-<secret>-<fingerprint8>``, shortened (keeping the fingerprint) when longer than
    Swarm allows."""
    name = f"{app}-{secret}-{fingerprint}"
    if len(name) <= MAX_NAME:
        return name
    prefix = f"{app}-{secret}"
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:6]
    return f"{prefix[: MAX_NAME - len(fingerprint) - 8]}-{digest}-{fingerprint}"


def file_version(app: str, key: str, value: ResolvedValue) -> str:
    """The version name of one secret file of *app*."""
    return version_name(
        app=app, secret=value.origin.secret or "inline", fingerprint=fingerprint8(key, value)
    )
