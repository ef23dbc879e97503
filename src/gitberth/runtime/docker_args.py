"""Pure translation of a resolved service into docker SDK ``containers.create`` arguments.

Like docker-py's own ``_create_container_args``, this is a function from values to values so it
can be unit-tested without an engine; the adapter only passes its result to the SDK.
"""

from __future__ import annotations

from typing import Any

from gitberth.core.models import ResolvedService
from gitberth.runtime.base import LABEL_REVISION, LABEL_SERVICE, LABEL_SPEC_HASH, resource_labels

SECRETS_MOUNT_POINT = "/run/secrets"
PUBLISH_ADDRESS = "127.0.0.1"


def labels_for(service: ResolvedService, *, revision: str, source: str) -> dict[str, str]:
    """The ownership contract: these five labels mark a container as gitberth's, and whose."""
    return {
        **resource_labels(source=source, app=service.app),
        LABEL_SERVICE: service.service,
        LABEL_SPEC_HASH: service.spec_hash,
        LABEL_REVISION: revision,
    }


def to_create_kwargs(
    service: ResolvedService,
    *,
    name: str,
    revision: str,
    source: str,
    secrets_dir: str | None = None,
) -> dict[str, Any]:
    """Arguments for ``client.containers.create`` (docker SDK 7).

    The port is published on 127.0.0.1 only: on the fixed ``hostPort`` when set, otherwise on an
    ephemeral port the engine picks. Secret files, when any, come from *secrets_dir* (a RAM-backed
    host directory) bind-mounted read-only at ``/run/secrets``.
    """
    spec = service.spec
    kwargs: dict[str, Any] = {
        "image": spec.image,
        "name": name,
        "labels": labels_for(service, revision=revision, source=source),
        "environment": {k: v.value.get_secret_value() for k, v in sorted(service.env.items())},
        "detach": True,
    }
    if spec.command is not None:
        kwargs["command"] = list(spec.command)
    if spec.port is not None:
        kwargs["ports"] = {f"{spec.port}/tcp": (PUBLISH_ADDRESS, spec.host_port)}
    if service.files:
        if secrets_dir is None:
            raise ValueError(f"{name} needs secret files but no secrets directory was given")
        kwargs["volumes"] = {secrets_dir: {"bind": SECRETS_MOUNT_POINT, "mode": "ro"}}
    return kwargs
