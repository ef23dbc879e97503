"""Compose ``ports`` (short ``"127.0.0.1:8080:80/tcp"`` and long syntax) as gitberth ports.

gitberth publishes TCP ports of a container: ``port``/``hostPort`` for one port, or
``ports: [{container, host, address}]`` for several or for a chosen address. Compose publishes on
every interface when no address is given; gitberth publishes on its server's default address
(``127.0.0.1`` unless ``serve --publish-address`` says otherwise), which the notes point out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gitberth.convert.notes import NoteKind, NoteList

MAX_RANGE = 100
_SHORT = re.compile(
    r"(?:(?:\[(?P<ip6>[0-9a-fA-F:.]+)\]|(?P<ip>\d{1,3}(?:\.\d{1,3}){3})):)?"
    r"(?:(?P<host>\d+(?:-\d+)?)?:)?"
    r"(?P<container>\d+(?:-\d+)?)"
    r"(?:/(?P<protocol>[a-z]+))?"
)


@dataclass(frozen=True)
class Published:
    """One container port and where it is published; None means gitberth's default."""

    container: int
    host: int | None = None
    address: str | None = None

    def as_manifest(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"container": self.container}
        if self.host is not None:
            entry["host"] = self.host
        if self.address is not None:
            entry["address"] = self.address
        return entry


def _range(text: str) -> list[int] | None:
    first, _, last = text.partition("-")
    start, end = int(first), int(last or first)
    if not 1 <= start <= end <= 65535 or end - start >= MAX_RANGE:
        return None
    return list(range(start, end + 1))


def _expand(
    *,
    key: str,
    container: str,
    host: str | None,
    address: str | None,
    protocol: str,
    notes: NoteList,
) -> list[Published]:
    if protocol != "tcp":
        notes.add(key, NoteKind.NOT_CARRIED, f"{protocol} ports: gitberth publishes TCP only")
        return []
    containers = _range(container)
    hosts = _range(host) if host else None
    if containers is None or (host and hosts is None):
        notes.add(
            key,
            NoteKind.NOT_CARRIED,
            f"not a port or a range of at most {MAX_RANGE} ports between 1 and 65535",
        )
        return []
    if hosts is not None and len(hosts) != len(containers):
        notes.add(
            key,
            NoteKind.CHANGED,
            "a host port range for one container port picks any free port: "
            "published on an ephemeral host port instead",
        )
        hosts = None
    return [
        Published(container=port, host=hosts[index] if hosts is not None else None, address=address)
        for index, port in enumerate(containers)
    ]


def _short(entry: str, *, key: str, notes: NoteList) -> list[Published]:
    match = _SHORT.fullmatch(entry.strip())
    if match is None:
        notes.add(key, NoteKind.NOT_CARRIED, f"cannot read the port {entry!r}")
        return []
    address = match.group("ip6") or match.group("ip")
    return _expand(
        key=key,
        container=match.group("container"),
        host=match.group("host"),
        address=address,
        protocol=match.group("protocol") or "tcp",
        notes=notes,
    )


def _long(entry: dict[str, Any], *, key: str, notes: NoteList) -> list[Published]:
    for extra in sorted(set(entry) - {"target", "published", "host_ip", "protocol", "mode"}):
        notes.add(f"{key}.{extra}", NoteKind.NOT_CARRIED, "gitberth ports have no such field")
    if entry.get("mode") not in (None, "ingress", "host"):
        notes.add(f"{key}.mode", NoteKind.NOT_CARRIED, "unknown port mode")
    target = entry.get("target")
    if target is None:
        notes.add(key, NoteKind.NOT_CARRIED, "a long-syntax port needs `target`")
        return []
    published = entry.get("published")
    return _expand(
        key=key,
        container=str(target),
        host=str(published) if published not in (None, "") else None,
        address=str(entry["host_ip"]) if entry.get("host_ip") else None,
        protocol=str(entry.get("protocol") or "tcp"),
        notes=notes,
    )


def convert_ports(entries: Any, *, notes: NoteList) -> list[Published]:
    """Every TCP port mapping of a service, in order, without duplicates."""
    if not isinstance(entries, list):
        notes.add("ports", NoteKind.NOT_CARRIED, "`ports` must be a list")
        return []
    found: list[Published] = []
    for index, entry in enumerate(entries):
        key = f"ports[{index}]"
        if isinstance(entry, dict):
            converted = _long(entry, key=key, notes=notes)
        elif isinstance(entry, int | str) and not isinstance(entry, bool):
            converted = _short(str(entry), key=key, notes=notes)
        else:
            notes.add(key, NoteKind.NOT_CARRIED, "a port is a string, a number or a mapping")
            converted = []
        for port in converted:
            if any(p.container == port.container for p in found):
                if port not in found:
                    notes.add(
                        key,
                        NoteKind.NOT_CARRIED,
                        f"container port {port.container} is already published; gitberth "
                        "publishes each container port once",
                    )
                continue
            found.append(port)
    if any(p.address is None for p in found):
        notes.add(
            "ports",
            NoteKind.CHANGED,
            "compose publishes on every interface when no address is given; gitberth publishes "
            "on its server's default address (127.0.0.1 unless serve --publish-address): add "
            "`address: 0.0.0.0` to a port that must be reachable from other machines",
        )
    return found


def port_fields(published: list[Published], *, replicas: int, notes: NoteList) -> dict[str, Any]:
    """The manifest fields for these ports: the short ``port``/``hostPort`` form for one port on
    the default address, else ``ports:``. A fixed host port cannot be shared by replicas."""
    if replicas > 1 and any(p.host is not None for p in published):
        notes.add(
            "ports",
            NoteKind.CHANGED,
            f"a fixed host port cannot be shared by {replicas} replicas: published on "
            "ephemeral host ports instead",
        )
        published = [Published(container=p.container, address=p.address) for p in published]
    if not published:
        return {}
    if len(published) == 1 and published[0].address is None:
        only = published[0]
        fields: dict[str, Any] = {"port": only.container}
        if only.host is not None:
            fields["hostPort"] = only.host
        return fields
    return {"ports": [p.as_manifest() for p in published]}
