"""Compose ``networks`` as gitberth networks.

Every gitberth app has its own network, where its services reach each other by service name:
that is compose's ``default`` network, and it also covers the other networks a project declares
for itself (compose names them ``<project>_<network>``, private to the project). gitberth's
``networks: [name]`` are networks shared *between* apps, which in compose are the ones declared
``external: true`` or with a fixed ``name:`` (every project naming it joins the same engine
network); only those are carried over, so converting a file never connects an app to another
app that merely uses the same network key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitberth.convert.notes import NoteKind, NoteList
from gitberth.convert.values import dns_label

RESERVED = frozenset({"bridge", "host", "none", "default", "ingress"})
_ATTACHMENT_REASONS = {
    "aliases": "a service is reached by its service name only",
    "ipv4_address": "gitberth lets the engine assign addresses",
    "ipv6_address": "gitberth lets the engine assign addresses",
    "link_local_ips": "gitberth lets the engine assign addresses",
    "mac_address": "gitberth lets the engine assign addresses",
}


def _shared_name(name: str, spec: Any) -> str | None:
    """The engine name of a network shared between projects (external, or with a fixed
    ``name:``), or None when the network is the project's own."""
    if not isinstance(spec, dict):
        return None
    external = spec.get("external")
    if isinstance(external, dict) and isinstance(external.get("name"), str):
        return str(external["name"])  # the pre-3.5 spelling `external: {name: ...}`
    fixed = spec.get("name")
    if isinstance(fixed, str) and fixed:
        return fixed
    return name if external else None


def convert_networks(entries: Any, *, declared: Mapping[str, Any], notes: NoteList) -> list[str]:
    """The shared networks a service joins; the app network is implicit."""
    if isinstance(entries, list):
        attachments: dict[str, Any] = {str(name): None for name in entries}
    elif isinstance(entries, dict):
        attachments = {str(name): spec for name, spec in entries.items()}
    else:
        notes.add("networks", NoteKind.NOT_CARRIED, "`networks` must be a list or a mapping")
        return []
    shared: list[str] = []
    for name, attachment in attachments.items():
        for option in sorted(attachment) if isinstance(attachment, dict) else ():
            notes.add(
                f"networks.{name}.{option}",
                NoteKind.NOT_CARRIED,
                _ATTACHMENT_REASONS.get(option, "gitberth network attachments have no options"),
            )
        external = _shared_name(name, declared.get(name))
        if external is None:
            if name != "default":
                notes.add(
                    f"networks.{name}",
                    NoteKind.CHANGED,
                    f"{name} is a network of this compose project only: gitberth puts every "
                    "service of the app on the app's own network instead, where they reach each "
                    "other by service name (compose's separation between a project's networks "
                    "is not kept)",
                )
            continue
        label = dns_label(external)
        if label is None or label in RESERVED or label.startswith("gitberth"):
            notes.add(
                f"networks.{name}",
                NoteKind.NOT_CARRIED,
                f"the shared network {external} cannot be a gitberth shared network name "
                "(a DNS label, not one of the engine's own, not starting with gitberth)",
            )
            continue
        if label != external:
            notes.add(
                f"networks.{name}",
                NoteKind.CHANGED,
                f"network {external} becomes the shared network {label} (a DNS label)",
            )
        notes.add(
            f"networks.{name}",
            NoteKind.CHANGED,
            f"shared between projects in compose: {label} becomes a network shared with every "
            "app that lists it, created and removed by gitberth",
        )
        if label not in shared:
            shared.append(label)
    return shared


def network_definition_notes(declared: Any, *, notes: NoteList) -> None:
    """What the top-level ``networks:`` says that gitberth does not carry: drivers, IPAM."""
    if not isinstance(declared, dict):
        if declared is not None:
            notes.add("networks", NoteKind.NOT_CARRIED, "top-level `networks` must be a mapping")
        return
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            continue
        for option in sorted(set(spec) - {"external", "name"}):
            notes.add(
                f"networks.{name}.{option}",
                NoteKind.NOT_CARRIED,
                "gitberth creates bridge networks with the engine's defaults",
            )
