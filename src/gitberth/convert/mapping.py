"""One docker compose file -> one gitberth app manifest, one service per compose service.

The mapping is pure: it takes the parsed compose data (and the folder the file is in, for
relative bind mounts) and returns the manifest as plain data plus a :class:`Note` for every
compose key that did not carry over unchanged. This module walks the file (the app's name,
the top-level keys, the services' names); :mod:`gitberth.convert.service` converts each service,
one handler per key. Nothing is dropped without a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitberth.convert import networks, secrets, volumes
from gitberth.convert.compose_file import ComposeFile
from gitberth.convert.notes import Note, NoteKind, NoteList
from gitberth.convert.service import ServiceConverter, as_mapping
from gitberth.convert.values import dns_label
from gitberth.core.errors import ComposeError

_TOP_LEVEL = {"name", "services", "volumes", "networks", "secrets"}


@dataclass(frozen=True)
class Conversion:
    """The manifest (plain data, ready to dump) and every note, file-level notes first."""

    app: str
    manifest: Mapping[str, Any]
    notes: tuple[Note, ...]


def app_name(*, explicit: str | None, compose: ComposeFile, folder: str) -> str:
    """``--app`` first, then the file's ``name:``, then its folder: compose's project name."""
    if explicit is not None:
        return explicit
    declared = compose.data.get("name")
    candidates = [str(declared)] if isinstance(declared, str) and "$" not in declared else []
    candidates.append(folder)
    for candidate in candidates:
        label = dns_label(candidate)
        if label is not None:
            return label
    raise ComposeError(
        f"{compose.file}: no app name can be made of {' or '.join(map(repr, candidates))}; "
        "pass --app NAME"
    )


def convert_compose(compose: ComposeFile, *, app: str, base_dir: str) -> Conversion:
    """Convert a parsed compose file into the manifest of the app *app*."""
    file_notes = NoteList(service=None)
    _file_level_notes(compose.data, notes=file_notes)
    declared_volumes = as_mapping(compose.data.get("volumes"))
    converter = ServiceConverter(
        app=app,
        volumes=volumes.VolumeConverter(declared=declared_volumes, base_dir=base_dir),
        networks=as_mapping(compose.data.get("networks")),
        secrets=as_mapping(compose.data.get("secrets")),
    )
    services: list[dict[str, Any]] = []
    notes: list[Note] = []
    used_names: set[str] = set()
    for compose_name, body in as_mapping(compose.data.get("services")).items():
        service_notes = NoteList(
            service=compose_name,
            key_lines=compose.key_lines.get(compose_name, {}),
            default_line=compose.line_of(compose_name),
        )
        name = _service_name(compose_name, used=used_names, notes=service_notes)
        used_names.add(name)
        services.append(converter.convert(name, body or {}, notes=service_notes))
        notes.extend(sorted(service_notes.notes, key=lambda note: note.line or 0))
    manifest = {"name": app, "services": services}
    return Conversion(app=app, manifest=manifest, notes=(*file_notes.notes, *notes))


def _service_name(compose_name: str, *, used: set[str], notes: NoteList) -> str:
    name = dns_label(compose_name) or "service"
    base, number = name, 2
    while name in used:
        name = f"{base[: 60 - len(str(number))]}-{number}"
        number += 1
    if name != compose_name:
        notes.add(
            "name",
            NoteKind.CHANGED,
            f"the service is named {name} (a DNS label); other services reach it as {name}",
        )
    return name


def _file_level_notes(data: Mapping[str, Any], *, notes: NoteList) -> None:
    volumes.volume_definition_notes(data.get("volumes"), notes=notes)
    networks.network_definition_notes(data.get("networks"), notes=notes)
    secrets.secret_definition_notes(data.get("secrets"), notes=notes)
    for key in data:
        if key in _TOP_LEVEL:
            continue
        reason = {
            "version": "obsolete: compose itself ignores it",
            "configs": "bake config files into the image, or upload them as a secret and mount "
            "it with secretFiles",
            "include": "merge the included files first: `docker compose config` prints one file",
            "models": "gitberth runs containers only",
        }.get(key)
        if reason is None and key.startswith("x-"):
            continue  # extension fields carry nothing themselves; their anchors are expanded
        notes.add(key, NoteKind.NOT_CARRIED, reason or "not a compose key gitberth knows")
