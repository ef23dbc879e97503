"""Docker's container documents (a list row, an inspect result) as :class:`ObservedContainer`.

Pure translations of the engine's JSON, kept apart from the calls that fetch it so they are
tested on recorded documents.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.runtime.base import LABEL_APP, LABEL_REVISION, LABEL_SERVICE, LABEL_SPEC_HASH
from gitberth.runtime.docker_args import SECRETS_MOUNT_POINT


def probe_address(address: str | None) -> str:
    """The address to reach a port published on *address* from this host."""
    return (
        "127.0.0.1" if address in (None, "", "0.0.0.0") else ("::1" if address == "::" else address)
    )


def container_endpoint(attrs: dict[str, Any]) -> tuple[tuple[str, ...], int | None]:
    """The container's own IPv4 addresses (one per network) and the TCP port inside it that
    its first published port leads to (what :func:`observed_from_attrs` calls ``host_port``)."""
    settings = attrs.get("NetworkSettings") or {}
    port = None
    for key, bindings in (settings.get("Ports") or {}).items():
        number, _, protocol = str(key).partition("/")
        if protocol == "tcp" and any(b.get("HostPort") for b in bindings or []):
            port = int(number)
            break
    addresses = tuple(
        str(network["IPAddress"])
        for network in (settings.get("Networks") or {}).values()
        if (network or {}).get("IPAddress")
    )
    return addresses, port


def last_health_output(state: dict[str, Any]) -> str:
    """The output of the last health check run the engine logged (``State.Health.Log``)."""
    log = (state.get("Health") or {}).get("Log") or []
    return str(log[-1].get("Output") or "").strip() if log else ""


_LIST_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")


def health_from_status(status: Any) -> str | None:
    """The health a list row's ``Status`` text shows (``Up 5 seconds (healthy)``): healthy,
    unhealthy, starting, or None when the container has no health check."""
    match = _LIST_HEALTH.search(status) if isinstance(status, str) else None
    if match is None:
        return None
    return "starting" if match.group(1) == "health: starting" else match.group(1)


def secrets_mount_source(row: dict[str, Any]) -> str | None:
    """The host directory bind-mounted at /run/secrets, from a list row or inspect document."""
    for mount in row.get("Mounts") or []:
        if mount.get("Destination") == SECRETS_MOUNT_POINT and mount.get("Type") == "bind":
            return str(mount.get("Source"))
    return None


def _state(value: str | None) -> ContainerState:
    try:
        return ContainerState(value or "unknown")
    except ValueError:
        return ContainerState.UNKNOWN


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")


def created_epoch(value: Any) -> float | None:
    """``Created`` as POSIX seconds: the list row gives an integer, ``inspect`` an RFC 3339
    string with nanoseconds (more digits than :mod:`datetime` reads). None when absent or odd."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    try:
        seconds = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone)).timestamp()
    except ValueError:
        return None
    return seconds + float("0" + fraction) if fraction else seconds


def observed_from_row(row: dict[str, Any]) -> ObservedContainer:
    """Build an :class:`ObservedContainer` from one ``GET /containers/json`` row."""
    labels: dict[str, str] = row.get("Labels") or {}
    names: list[str] = row.get("Names") or []
    host_port, host_address = None, None
    for port in row.get("Ports") or []:
        if port.get("PublicPort"):
            host_port, host_address = int(port["PublicPort"]), port.get("IP") or None
            break
    return ObservedContainer(
        id=str(row["Id"]),
        name=names[0].lstrip("/") if names else str(row["Id"])[:12],
        app=labels[LABEL_APP],
        service=labels[LABEL_SERVICE],
        spec_hash=labels[LABEL_SPEC_HASH],
        revision=labels[LABEL_REVISION],
        state=_state(row.get("State")),
        image=str(row.get("Image", "")),
        host_port=host_port,
        host_address=host_address,
        labels=labels,
        created_at=created_epoch(row.get("Created")),
        health=health_from_status(row.get("Status")),
        volumes=mounted_volumes(row),
    )


def mounted_volumes(row: dict[str, Any]) -> tuple[str, ...]:
    """Names of the named volumes a list row or inspect document mounts."""
    return tuple(
        sorted(
            str(m.get("Name"))
            for m in row.get("Mounts") or []
            if m.get("Type") == "volume" and m.get("Name")
        )
    )


def observed_from_attrs(attrs: dict[str, Any]) -> ObservedContainer:
    """Build an :class:`ObservedContainer` from a full ``inspect`` document."""
    labels: dict[str, str] = attrs["Config"].get("Labels") or {}
    host_port, host_address = None, None
    for bindings in (attrs.get("NetworkSettings", {}).get("Ports") or {}).values():
        for binding in bindings or []:
            if binding.get("HostPort") and host_port is None:
                host_port, host_address = int(binding["HostPort"]), binding.get("HostIp") or None
    return ObservedContainer(
        id=str(attrs["Id"]),
        name=str(attrs["Name"]).lstrip("/"),
        app=labels[LABEL_APP],
        service=labels[LABEL_SERVICE],
        spec_hash=labels[LABEL_SPEC_HASH],
        revision=labels[LABEL_REVISION],
        state=_state(attrs.get("State", {}).get("Status")),
        image=str(attrs["Config"].get("Image", "")),
        host_port=host_port,
        host_address=host_address,
        labels=labels,
        created_at=created_epoch(attrs.get("Created")),
        health=_inspect_health(attrs),
        volumes=mounted_volumes(attrs),
    )


def _inspect_health(attrs: dict[str, Any]) -> str | None:
    status = ((attrs.get("State") or {}).get("Health") or {}).get("Status")
    return str(status) if status and status != "none" else None
