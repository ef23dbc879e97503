"""Pure translation of a resolved service into docker SDK ``containers.create`` arguments.

Like docker-py's own ``_create_container_args``, this is a function from values to values so it
can be unit-tested without an engine; the adapter only passes its result to the SDK.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gitberth.core.container_options import ContainerOptions, PortBinding
from gitberth.core.option_fields import DEFAULT_PUBLISH_ADDRESS
from gitberth.core.resolved import ResolvedService
from gitberth.core.wiring import app_network_name
from gitberth.runtime.base import LABEL_REVISION, LABEL_SERVICE, LABEL_SPEC_HASH, resource_labels

SECRETS_MOUNT_POINT = "/run/secrets"
PUBLISH_ADDRESS = DEFAULT_PUBLISH_ADDRESS
SECURITY_OPTIONS = ("no-new-privileges",)
"""Set on every container: a setuid binary inside cannot gain privileges its parent lacks."""


def labels_for(service: ResolvedService, *, revision: str, source: str) -> dict[str, str]:
    """The manifest's own labels plus the ownership contract: the five ``gitberth.*`` labels
    mark a container as gitberth's, and whose (a manifest cannot set any ``gitberth.*`` key)."""
    return {
        **dict(service.spec.options.labels),
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
    publish_address: str = PUBLISH_ADDRESS,
    stop_grace_seconds: int | None = None,
    bind_sources: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Arguments for ``client.containers.create`` (docker SDK 7).

    Ports are published on their own ``address``, else on *publish_address* (127.0.0.1 unless
    ``serve --publish-address`` says otherwise): on the fixed host port when set, otherwise on
    an ephemeral port the engine picks. Secret files, when any, come from *secrets_dir* (a
    RAM-backed host directory) bind-mounted read-only at ``/run/secrets``.
    *stop_grace_seconds* is the server's ``--grace``, used when the service sets no
    ``stopGracePeriod``; it becomes the container's own stop timeout.
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
    if spec.published_ports:
        kwargs["ports"] = port_bindings(spec.published_ports, default_address=publish_address)
    if service.files:
        if secrets_dir is None:
            raise ValueError(f"{name} needs secret files but no secrets directory was given")
        kwargs["volumes"] = {secrets_dir: {"bind": SECRETS_MOUNT_POINT, "mode": "ro"}}
    kwargs.update(wiring_kwargs(service, bind_sources=bind_sources or {}))
    kwargs.update(option_kwargs(spec.options, stop_grace_seconds=stop_grace_seconds))
    return kwargs


def port_bindings(
    ports: tuple[PortBinding, ...], *, default_address: str
) -> dict[str, tuple[str, int | None]]:
    """``ports=`` for the SDK: container port -> (host address, host port or None)."""
    return {f"{p.container}/tcp": (p.address or default_address, p.host) for p in ports}


def option_kwargs(
    options: ContainerOptions, *, stop_grace_seconds: int | None = None
) -> dict[str, Any]:
    """Health check, restart policy, limits, process settings and no-new-privileges."""
    kwargs: dict[str, Any] = {
        "restart_policy": {"Name": options.restart.docker_name},
        "pids_limit": options.pids,
        "security_opt": list(SECURITY_OPTIONS),
    }
    check = options.healthcheck
    if check is not None:
        kwargs["healthcheck"] = {
            "test": check.test,
            "interval": check.interval_ns,
            "timeout": check.timeout_ns,
            "retries": check.retries,
            "start_period": check.start_period_ns,
        }
    if options.memory is not None:
        kwargs["mem_limit"] = options.memory
    if options.cpus is not None:
        kwargs["nano_cpus"] = round(options.cpus * 1e9)
    if options.user is not None:
        kwargs["user"] = options.user
    if options.working_dir is not None:
        kwargs["working_dir"] = options.working_dir
    if options.entrypoint is not None:
        kwargs["entrypoint"] = list(options.entrypoint)
    if options.stop_signal is not None:
        kwargs["stop_signal"] = options.stop_signal
    if options.stop_grace_ns is not None:
        kwargs["stop_timeout"] = math.ceil(options.stop_grace_ns / 1e9)
    elif stop_grace_seconds is not None:
        kwargs["stop_timeout"] = stop_grace_seconds
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
    mounts = engine_mounts(service, bind_sources=bind_sources)
    kwargs: dict[str, Any] = {
        "network": network,
        "networking_config": {network: {"Aliases": [spec.service]}},
    }
    if mounts:
        kwargs["mounts"] = mounts
    return kwargs


def engine_mounts(
    service: ResolvedService, *, bind_sources: Mapping[str, str]
) -> list[dict[str, Any]]:
    """The service's mounts as the engine API's ``Mount`` objects, which a container's
    ``mounts`` and a Swarm task's ``Mounts`` both take: named volumes as ``<app>_<name>``,
    binds from *bind_sources*[written path]."""
    spec = service.spec
    mounts: list[dict[str, Any]] = []
    for mount in spec.volumes:
        volume = mount.engine_name(spec.app)
        if volume is not None:
            kind, engine_source = "volume", volume
        else:
            assert mount.bind is not None
            kind, engine_source = "bind", bind_sources[mount.bind]
        mounts.append(
            {
                "Type": kind,
                "Source": engine_source,
                "Target": mount.path,
                "ReadOnly": mount.read_only,
            }
        )
    return mounts


def shared_network_aliases(service: ResolvedService) -> list[str]:
    """On a shared network, other apps find a service as ``<app>`` (single-service app) or
    ``<app>-<service>``: a bare service name would clash between apps."""
    return [service.spec.container_base]
