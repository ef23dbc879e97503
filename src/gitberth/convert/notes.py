"""What a conversion could not carry over, or carried with a difference, per compose key.

Every compose key that does not land in the manifest unchanged gets a :class:`Note`, so that
nothing is dropped silently: the command prints them, and ``--format json`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class NoteKind(StrEnum):
    REFUSED = "refused"
    """gitberth will not do this on purpose (host privileges, its own labels)."""
    NOT_CARRIED = "not carried"
    """No gitberth field holds this; the manifest runs without it."""
    CHANGED = "changed"
    """Carried over, but differently from compose; the reason says how."""
    TODO = "to do"
    """Carried over, with a step left for the user (upload a secret, allow a bind prefix)."""


@dataclass(frozen=True)
class Note:
    """One compose key of one service (``service`` None: the file as a whole)."""

    service: str | None
    key: str
    kind: NoteKind
    reason: str
    line: int | None = None

    def describe(self) -> str:
        """``web: privileged (refused: gitberth never grants host privileges)``."""
        who = f"{self.service}: " if self.service else ""
        return f"{who}{self.key} ({self.kind}: {self.reason})"


class NoteList:
    """Collects the notes of one service (or of the file), attaching the compose line of the
    top-level key each note is about."""

    def __init__(
        self,
        *,
        service: str | None,
        key_lines: Mapping[str, int] | None = None,
        default_line: int | None = None,
    ) -> None:
        self.service = service
        self._key_lines = key_lines or {}
        self._default_line = default_line
        self.notes: list[Note] = []

    def add(self, key: str, kind: NoteKind, reason: str) -> None:
        top = re.split(r"[.\[]", key, maxsplit=1)[0]
        line = self._key_lines.get(top, self._default_line)
        self.notes.append(Note(self.service, key, kind, reason, line))
