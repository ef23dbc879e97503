"""The spec hash: one string that changes exactly when a container must be replaced.

It covers the image, command, port, host port, every env variable, every secret file, the
container options (health check, restart policy, limits, labels, process, ports; see
:func:`gitberth.core.option_changes.hash_document`) with the address ports are published on,
and the networks and mounts. Version 2 added the options, the publish address, the networks and
the mounts: every container of an older gitberth is replaced once, start-first, and joins its
app's own network. The pull policy, the pull secret and the rollout strategy do not enter: they
change how a container is started, not what runs.
Secret values enter only as the HMAC fingerprint the secret store computed, so the hash can sit
in a container label and still reveal nothing; replica count and revision do not enter, so
scaling or an unrelated commit never replaces a container.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gitberth.core import option_changes
from gitberth.core.models import ServiceSpec
from gitberth.core.option_fields import DEFAULT_PUBLISH_ADDRESS
from gitberth.core.resolved import ResolvedValue, spec_basics
from gitberth.core.wiring import app_network_name

HASH_VERSION = "2"
"""2: container options, the publish address, networks and mounts entered the hash (every
container of an older gitberth is replaced once, start-first)."""


def spec_hash(
    spec: ServiceSpec,
    *,
    env: Mapping[str, ResolvedValue],
    files: Mapping[str, ResolvedValue],
    publish_address: str = DEFAULT_PUBLISH_ADDRESS,
) -> str:
    """Hash of everything that defines a running container of *spec*.

    *publish_address* is the server's default address for ports that name none, so that
    ``serve --publish-address`` moves the containers it applies to.
    """
    document = {
        "v": HASH_VERSION,
        **spec_basics(spec),
        "env": {name: _value_fingerprint(item) for name, item in sorted(env.items())},
        "files": {name: _value_fingerprint(item) for name, item in sorted(files.items())},
        "options": option_changes.hash_document(spec.options),
        "publishAddress": publish_address
        if any(p.address is None for p in spec.published_ports)
        else None,
        **wiring_document(spec),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _value_fingerprint(item: ResolvedValue) -> str:
    return f"{item.origin.source.value}:{item.fingerprint}"


def wiring_document(spec: ServiceSpec) -> dict[str, Any]:
    """The networks and mounts of *spec* as they enter the hash."""
    return {
        "networks": [app_network_name(spec.app), *spec.networks],
        "mounts": [[m.name, m.bind, m.path, m.read_only] for m in spec.volumes],
    }
