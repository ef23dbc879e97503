"""Compose ``volumes`` of a service as gitberth mounts, and the top-level volume definitions.

A named compose volume becomes a volume owned by the app (``{name, path, readOnly}``), which
gitberth never deletes on a deploy, as compose keeps its project volumes. A host path becomes a
bind mount (``{bind, path, readOnly}``), which only runs where the server allows its prefix
(``serve --allow-bind-under``). The engine socket is refused outright: it is root on the host.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from gitberth.convert.notes import NoteKind, NoteList
from gitberth.convert.values import dns_label

ENGINE_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
_KNOWN_MODES = {"ro", "rw"}
_LONG_KEYS = {"type", "source", "target", "read_only"}


def _is_host_path(source: str) -> bool:
    return source.startswith(("/", ".", "~"))


class VolumeConverter:
    """Converts the mounts of every service against the file's top-level ``volumes:``."""

    def __init__(self, *, declared: Mapping[str, Any], base_dir: str) -> None:
        self._declared = declared
        self._base_dir = base_dir

    def convert(self, entries: Any, *, notes: NoteList) -> list[dict[str, Any]]:
        """The service's mounts, in order; a path mounted twice keeps its first mount."""
        if not isinstance(entries, list):
            notes.add("volumes", NoteKind.NOT_CARRIED, "`volumes` must be a list")
            return []
        mounts: list[dict[str, Any]] = []
        for index, entry in enumerate(entries):
            key = f"volumes[{index}]"
            if isinstance(entry, str):
                mount = self._short(entry, key=key, notes=notes)
            elif isinstance(entry, dict):
                mount = self._long(entry, key=key, notes=notes)
            else:
                notes.add(key, NoteKind.NOT_CARRIED, "a volume is a string or a mapping")
                mount = None
            if mount is None:
                continue
            if any(m["path"] == mount["path"] for m in mounts):
                notes.add(key, NoteKind.NOT_CARRIED, f"{mount['path']} is already mounted")
                continue
            mounts.append(mount)
        return mounts

    def _short(self, entry: str, *, key: str, notes: NoteList) -> dict[str, Any] | None:
        parts = entry.split(":")
        if len(parts) == 1:
            return self._mount(source=None, target=parts[0], read_only=False, key=key, notes=notes)
        if len(parts) > 3:
            notes.add(key, NoteKind.NOT_CARRIED, f"cannot read the volume {entry!r}")
            return None
        modes = parts[2].split(",") if len(parts) == 3 else []
        for mode in modes:
            if mode not in _KNOWN_MODES:
                notes.add(
                    key, NoteKind.NOT_CARRIED, f"mount option {mode!r}: gitberth has no such option"
                )
        return self._mount(
            source=parts[0], target=parts[1], read_only="ro" in modes, key=key, notes=notes
        )

    def _long(self, entry: dict[str, Any], *, key: str, notes: NoteList) -> dict[str, Any] | None:
        kind = entry.get("type", "volume")
        if kind not in ("volume", "bind"):
            notes.add(
                key,
                NoteKind.NOT_CARRIED,
                f"type {kind}: gitberth mounts named volumes and allowed host paths only",
            )
            return None
        for extra in sorted(set(entry) - _LONG_KEYS):
            notes.add(f"{key}.{extra}", NoteKind.NOT_CARRIED, "gitberth mounts have no such option")
        target = entry.get("target")
        if not isinstance(target, str):
            notes.add(key, NoteKind.NOT_CARRIED, "a long-syntax volume needs `target`")
            return None
        source = entry.get("source")
        if kind == "bind" and not isinstance(source, str):
            notes.add(key, NoteKind.NOT_CARRIED, "a bind mount needs `source`")
            return None
        if kind == "bind" and isinstance(source, str) and not _is_host_path(source):
            source = "./" + source
        return self._mount(
            source=source if isinstance(source, str) and source else None,
            target=target,
            read_only=bool(entry.get("read_only", False)),
            key=key,
            notes=notes,
        )

    def _mount(
        self,
        *,
        source: str | None,
        target: str,
        read_only: bool,
        key: str,
        notes: NoteList,
    ) -> dict[str, Any] | None:
        if not target.startswith("/"):
            notes.add(key, NoteKind.NOT_CARRIED, f"the container path {target!r} is not absolute")
            return None
        if source is None:
            return self._anonymous(target=target, read_only=read_only, key=key, notes=notes)
        if _is_host_path(source):
            return self._bind(
                source=source, target=target, read_only=read_only, key=key, notes=notes
            )
        return self._named(source=source, target=target, read_only=read_only, key=key, notes=notes)

    def _anonymous(
        self, *, target: str, read_only: bool, key: str, notes: NoteList
    ) -> dict[str, Any] | None:
        name = dns_label(posixpath.basename(posixpath.normpath(target)) or "data")
        if name is None:
            notes.add(key, NoteKind.NOT_CARRIED, "an anonymous volume with no usable name")
            return None
        notes.add(
            key,
            NoteKind.CHANGED,
            f"an anonymous volume at {target} becomes the named volume {name!r}, kept across "
            "deploys like every gitberth volume",
        )
        return {"name": name, "path": target, "readOnly": read_only}

    def _bind(
        self, *, source: str, target: str, read_only: bool, key: str, notes: NoteList
    ) -> dict[str, Any] | None:
        if source.startswith("~"):
            notes.add(
                key,
                NoteKind.NOT_CARRIED,
                f"{source} is in the home of whoever runs compose; write an absolute host path",
            )
            return None
        host = posixpath.normpath(posixpath.join(self._base_dir, source))
        if host in ENGINE_SOCKETS:
            notes.add(
                key,
                NoteKind.REFUSED,
                "the Docker engine socket gives root on the host; gitberth never mounts it",
            )
            return None
        origin = "" if source.startswith("/") else f" ({source}, from the compose file's folder)"
        notes.add(
            key,
            NoteKind.TODO,
            f"bind mount of the host path {host}{origin}: it runs only when the gitberth "
            "server allows that prefix (serve --allow-bind-under) and the path exists there",
        )
        return {"bind": host, "path": target, "readOnly": read_only}

    def _named(
        self,
        *,
        source: str,
        target: str,
        read_only: bool,
        key: str,
        notes: NoteList,
    ) -> dict[str, Any] | None:
        name = dns_label(source)
        if name is None:
            notes.add(key, NoteKind.NOT_CARRIED, f"no volume name can be made of {source!r}")
            return None
        if name != source:
            notes.add(key, NoteKind.CHANGED, f"volume {source} is named {name} (a DNS label)")
        if source not in self._declared:
            notes.add(
                key,
                NoteKind.CHANGED,
                f"volume {source} is not declared under the top-level `volumes:` (compose "
                "refuses that); it is converted as a volume of the app",
            )
        return {"name": name, "path": target, "readOnly": read_only}


def volume_definition_notes(declared: Any, *, notes: NoteList) -> None:
    """What the top-level ``volumes:`` says that a gitberth volume cannot: drivers, external
    volumes, custom engine names."""
    if not isinstance(declared, dict):
        if declared is not None:
            notes.add("volumes", NoteKind.NOT_CARRIED, "top-level `volumes` must be a mapping")
        return
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            continue
        if spec.get("external"):
            notes.add(
                f"volumes.{name}.external",
                NoteKind.NOT_CARRIED,
                "gitberth creates and owns the volumes of an app (engine name <app>_<volume>); "
                "an existing volume is not adopted: copy its data into the app's volume",
            )
        for option in sorted(set(spec) - {"external"}):
            reason = {
                "name": "gitberth names the engine volume <app>_<volume>",
                "driver": "gitberth creates volumes with the engine's default driver",
                "driver_opts": "gitberth creates volumes with the engine's default driver",
                "labels": "gitberth labels its volumes with the app and volume name",
            }.get(option, "gitberth volumes have no such option")
            notes.add(f"volumes.{name}.{option}", NoteKind.NOT_CARRIED, reason)
