"""Pure translation of a resolved service into a Swarm service spec.

As :mod:`gitberth.runtime.docker_args` does for one container, this turns values into the
engine API's ``ServiceSpec`` document and does no I/O, so it is unit-tested without an engine.
One manifest service is one Swarm service named like the Docker runtime's container prefix
(:func:`gitberth.core.models.container_base`), carrying gitberth's ownership labels; its
replicas, env, networks, mounts, ports, limits, health check and restart policy come from the
manifest, and ``UpdateConfig`` makes Swarm itself gate an update on the health check
(start-first, ``monitor`` as long as the check needs to decide) and roll back a failing one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitberth.core.container_options import ContainerOptions
from gitberth.core.option_fields import RestartPolicy
from gitberth.core.resolved import ResolvedService
from gitberth.core.wiring import app_network_name
from gitberth.runtime.docker_args import engine_mounts, labels_for, shared_network_aliases
from gitberth.runtime.engine_resources import volume_labels

LABEL_TASK_OF = "gitberth.swarm-service"
"""On a task's container: the Swarm service it belongs to. Task containers never carry the
ownership labels, so a Docker runtime on the same engine never takes them for its own."""
DEFAULT_MONITOR_NS = 3_000_000_000
"""How long Swarm watches a new task without a health check before it counts as updated."""
MIN_MONITOR_NS = 1_000_000_000
PUBLISH_MODE = "host"
"""Ports are published on the node running the task (as on one engine); Swarm's ingress
routing mesh is not reachable on 127.0.0.1 on every kernel."""

_SWARM_RESTART = {
    RestartPolicy.UNLESS_STOPPED: "any",
    RestartPolicy.ALWAYS: "any",
    RestartPolicy.ON_FAILURE: "on-failure",
    RestartPolicy.NO: "none",
}


def service_spec(
    service: ResolvedService,
    *,
    revision: str,
    source: str,
    secrets: Sequence[Mapping[str, Any]] = (),
    stop_grace_seconds: int | None = None,
    bind_sources: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``ServiceSpec`` of *service* (the body of ``POST /services/create`` and of an
    update). *secrets* are the ``Secrets`` references of its files
    (:func:`gitberth.runtime.swarm_secrets.secret_reference`)."""
    spec = service.spec
    container: dict[str, Any] = {
        "Image": spec.image,
        "Labels": {**dict(spec.options.labels), LABEL_TASK_OF: spec.container_base},
        "Env": [f"{k}={v.value.get_secret_value()}" for k, v in sorted(service.env.items())],
        "Mounts": mounts(service, source=source, bind_sources=bind_sources or {}),
        "Secrets": [dict(s) for s in secrets],
    }
    container.update(process_fields(spec.options, stop_grace_seconds=stop_grace_seconds))
    if spec.command is not None:
        container["Args"] = list(spec.command)  # Swarm's Args is the container's CMD
    document: dict[str, Any] = {
        "Name": spec.container_base,
        "Labels": labels_for(service, revision=revision, source=source),
        "TaskTemplate": {
            "ContainerSpec": container,
            "Resources": resources(spec.options),
            "RestartPolicy": restart_policy(spec.options),
            "Networks": networks(service),
        },
        "Mode": {"Replicated": {"Replicas": spec.replicas}},
        "UpdateConfig": update_config(service),
        "RollbackConfig": {**update_config(service), "FailureAction": "pause"},
        "EndpointSpec": endpoint(service),
    }
    return document


def process_fields(
    options: ContainerOptions, *, stop_grace_seconds: int | None = None
) -> dict[str, Any]:
    """Health check, user, working directory, entrypoint and stop settings of a container."""
    fields: dict[str, Any] = {}
    check = options.healthcheck
    if check is not None:
        fields["Healthcheck"] = {
            "Test": check.test,
            "Interval": check.interval_ns,
            "Timeout": check.timeout_ns,
            "Retries": check.retries,
            "StartPeriod": check.start_period_ns,
        }
    if options.user is not None:
        fields["User"] = options.user
    if options.working_dir is not None:
        fields["Dir"] = options.working_dir
    if options.entrypoint is not None:
        fields["Command"] = list(options.entrypoint)  # Swarm's Command is the ENTRYPOINT
    if options.stop_signal is not None:
        fields["StopSignal"] = options.stop_signal
    if options.stop_grace_ns is not None:
        fields["StopGracePeriod"] = options.stop_grace_ns
    elif stop_grace_seconds is not None:
        fields["StopGracePeriod"] = stop_grace_seconds * 1_000_000_000
    return fields


def resources(options: ContainerOptions) -> dict[str, Any]:
    """Limits: memory, CPUs (in nano-CPUs) and the pids limit."""
    limits: dict[str, Any] = {"Pids": options.pids}
    if options.memory is not None:
        limits["MemoryBytes"] = options.memory
    if options.cpus is not None:
        limits["NanoCPUs"] = round(options.cpus * 1e9)
    return {"Limits": limits}


def restart_policy(options: ContainerOptions) -> dict[str, Any]:
    """Swarm restarts (reschedules) a task the way the manifest's ``restart`` says."""
    return {"Condition": _SWARM_RESTART[options.restart], "Delay": 1_000_000_000}


def monitor_ns(options: ContainerOptions) -> int:
    """How long Swarm watches each updated task once it runs before it moves on. Swarm starts a
    task with a health check only once the check passed, so a task that never gets healthy
    fails the update anyway; the window catches one that turns unhealthy right after (two
    check intervals)."""
    check = options.healthcheck
    if check is None:
        return DEFAULT_MONITOR_NS
    return max(MIN_MONITOR_NS, 2 * check.interval_ns)


def update_config(service: ResolvedService) -> dict[str, Any]:
    """One task at a time, new before old (old before new for ``rollout: stopFirst``), rolled
    back by Swarm when a new task fails."""
    order = "stop-first" if service.spec.rollout == "stopFirst" else "start-first"
    return {
        "Parallelism": 1,
        "Delay": 0,
        "FailureAction": "rollback",
        "Monitor": monitor_ns(service.spec.options),
        "MaxFailureRatio": 0,
        "Order": order,
    }


def networks(service: ResolvedService) -> list[dict[str, Any]]:
    """The app's own overlay network (the service name as alias there) and the shared ones
    (``<app>`` or ``<app>-<service>`` there, as on one engine)."""
    spec = service.spec
    attached = [{"Target": app_network_name(spec.app), "Aliases": [spec.service]}]
    attached += [
        {"Target": name, "Aliases": shared_network_aliases(service)} for name in spec.networks
    ]
    return attached


def mounts(
    service: ResolvedService, *, source: str, bind_sources: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Named volumes (``<app>_<name>``, created labelled on whichever node runs a task) and
    the bind mounts the bind policy allowed, at the paths it resolved."""
    spec = service.spec
    result = engine_mounts(service, bind_sources=bind_sources)
    for document, mount in zip(result, spec.volumes, strict=True):
        if mount.name is not None:
            labels = volume_labels(spec.app, mount.name, source=source)
            document["VolumeOptions"] = {"Labels": labels}
    return result


def endpoint(service: ResolvedService) -> dict[str, Any]:
    """Published ports, in host mode unless a port says ``mode: ingress``: the fixed host port
    when set, else one the node (or, for ingress, Swarm) picks. Swarm publishes on every address
    (it has no per-address binding)."""
    ports = []
    for binding in service.spec.published_ports:
        port: dict[str, Any] = {
            "Protocol": "tcp",
            "TargetPort": binding.container,
            "PublishMode": binding.mode or PUBLISH_MODE,
        }
        if binding.host is not None:
            port["PublishedPort"] = binding.host
        ports.append(port)
    return {"Mode": "vip", "Ports": ports}
