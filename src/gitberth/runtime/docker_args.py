"""Pure translation of a resolved service into docker SDK ``containers.create`` arguments.

Like docker-py's own ``_create_container_args``, this is a function from values to values so it
can be unit-tested without an engine; the adapter only passes its result to the SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitberth.core.models import ResolvedService, app_network_name, volume_engine_name
from gitberth.runtime.base import LABEL_APP, LABEL_REVISION, LABEL_SERVICE, LABEL_SPEC_HASH

SECRETS_MOUNT_POINT = "/run/secrets"
PUBLISH_ADDRESS = "127.0.0.1"


def labels_for(service: ResolvedService, *, revision: str) -> dict[str, str]:
    """The ownership contract: exactly these four labels mark a container as gitberth's."""
    return {
        LABEL_APP: service.app,
        LABEL_SERVICE: service.service,
        LABEL_SPEC_HASH: service.spec_hash,
        LABEL_REVISION: revision,
    }


def to_create_kwargs(
    service: ResolvedService,
    *,
    name: str,
    revision: str,
    secrets_dir: str | None = None,
    bind_sources: Mapping[str, str] | None = None,
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
        "labels": labels_for(service, revision=revision),
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
    kwargs.update(wiring_kwargs(service, bind_sources=bind_sources or {}))
    return kwargs


def wiring_kwargs(service: ResolvedService, *, bind_sources: Mapping[str, str]) -> dict[str, Any]:
    """The app's own network (the service name as DNS alias there) and the mounts.

    A container can be created on one network only (engine API < 1.44), so the shared
    networks are joined after create (:func:`shared_network_aliases`). Named volumes are
    ``<app>_<name>``; a bind mount's source is *bind_sources*[written path], the path the
    bind policy checked with symlinks resolved, so what was checked is what is mounted.
    """
    spec = service.spec
    network = app_network_name(spec.app)
    mounts = []
    for mount in spec.volumes:
        if mount.name is not None:
            mounts.append(
                {
                    "Type": "volume",
                    "Source": volume_engine_name(spec.app, mount.name),
                    "Target": mount.path,
                    "ReadOnly": mount.read_only,
                }
            )
        else:
            assert mount.bind is not None
            mounts.append(
                {
                    "Type": "bind",
                    "Source": bind_sources[mount.bind],
                    "Target": mount.path,
                    "ReadOnly": mount.read_only,
                }
            )
    kwargs: dict[str, Any] = {
        "network": network,
        "networking_config": {network: {"Aliases": [spec.service]}},
    }
    if mounts:
        kwargs["mounts"] = mounts
    return kwargs


def shared_network_aliases(service: ResolvedService) -> list[str]:
    """On a shared network, other apps find a service as ``<app>`` (single-service app) or
    ``<app>-<service>``: a bare service name would clash between apps."""
    return [service.spec.container_base]
