"""The spec hash: one string that changes exactly when a container must be replaced.

It covers the image, command, port, host port, every env variable, every secret file, and the
container options (health check, restart policy, limits, labels, process, ports; see
:func:`gitberth.core.container_options.hash_document`) with the address ports are published on.
Secret values enter only as the HMAC fingerprint the secret store computed, so the hash can sit
in a container label and still reveal nothing; replica count and revision do not enter, so
scaling or an unrelated commit never replaces a container.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from gitberth.core import container_options
from gitberth.core.container_options import DEFAULT_PUBLISH_ADDRESS
from gitberth.core.models import ResolvedValue, ServiceSpec

HASH_VERSION = "2"
"""2: container options and the publish address entered the hash (every container of an older
gitberth is replaced once, start-first, and gains restart policy, limits and no-new-privileges)."""


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
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "port": spec.port,
        "hostPort": spec.host_port,
        "env": {name: _value_fingerprint(item) for name, item in sorted(env.items())},
        "files": {name: _value_fingerprint(item) for name, item in sorted(files.items())},
        "options": container_options.hash_document(spec.options),
        "publishAddress": publish_address
        if any(p.address is None for p in spec.published_ports)
        else None,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _value_fingerprint(item: ResolvedValue) -> str:
    return f"{item.origin.source.value}:{item.fingerprint}"
