"""Helpers for the conversion tests: compose text in, manifest and notes out."""

from __future__ import annotations

from gitberth.convert.compose_file import load_compose
from gitberth.convert.mapping import Conversion, convert_compose
from gitberth.convert.notes import Note


def convert(text: str, *, app: str = "shop", base_dir: str = "/srv/shop") -> Conversion:
    return convert_compose(load_compose(text, file="compose.yaml"), app=app, base_dir=base_dir)


def service(conversion: Conversion, name: str) -> dict[str, object]:
    found = [s for s in conversion.manifest["services"] if s["name"] == name]
    assert found, f"no service {name} in {conversion.manifest}"
    return dict(found[0])


def notes_of(conversion: Conversion, name: str | None) -> dict[str, list[Note]]:
    grouped: dict[str, list[Note]] = {}
    for note in conversion.notes:
        if note.service == name:
            grouped.setdefault(note.key, []).append(note)
    return grouped


def one_service(body: str) -> str:
    """A compose file with the one service ``web`` whose body is *body* (indented 4)."""
    indented = "".join(f"    {line}\n" for line in body.strip("\n").splitlines())
    return f"services:\n  web:\n{indented}"
