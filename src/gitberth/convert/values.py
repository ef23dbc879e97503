"""Compose scalar conventions turned into gitberth's: variables, shell words, sizes, names.

Compose interpolates ``${VAR}`` from the shell and the project's ``.env`` when it reads the file;
gitberth reads manifests from Git and never from anybody's shell. So a converted value keeps
only what the file itself says: ``${VAR:-default}`` becomes its default, ``$$`` becomes ``$``,
and anything that needs the shell is reported (a secret value belongs in the secret store).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from gitberth.core.models import is_dns_label

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[_a-zA-Z][_a-zA-Z0-9]*))"
)
_BRACED = re.compile(r"(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)(?P<op>:?[-?+])?(?P<arg>.*)", re.DOTALL)


@dataclass(frozen=True)
class Interpolated:
    """A compose string after interpolation without a shell."""

    text: str
    unresolved: tuple[str, ...] = ()
    """Variables that only the shell or ``.env`` could fill in; ``text`` keeps them as written."""
    defaulted: tuple[str, ...] = ()
    """Variables replaced by the default the file gives (``${TAG:-1.0}``)."""


def interpolate(value: str) -> Interpolated:
    """Apply compose's interpolation as if no variable were set."""
    unresolved: list[str] = []
    defaulted: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("named"):
            unresolved.append(match.group("named"))
            return match.group(0)
        braced = _BRACED.fullmatch(match.group("braced"))
        if braced is None:
            unresolved.append(match.group("braced"))
            return match.group(0)
        operator = braced.group("op") or ""
        if operator in (":-", "-"):
            defaulted.append(braced.group("name"))
            return braced.group("arg")
        unresolved.append(braced.group("name"))
        return match.group(0)

    text = _VARIABLE.sub(substitute, value)
    return Interpolated(text=text, unresolved=tuple(unresolved), defaulted=tuple(defaulted))


def shell_words(value: object) -> list[str]:
    """Compose's ``command`` and ``entrypoint``: a list as is, a string split like a shell.
    Raises ValueError for anything else (an unbalanced quote included)."""
    if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        return [scalar_text(item) for item in value]
    if isinstance(value, str):
        return shlex.split(value)
    raise ValueError("not a list of words or a command line")


def scalar_text(value: object) -> str:
    """A YAML scalar as compose passes it to the engine: booleans lowercase, numbers as
    written, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?) ?(?P<unit>[kmgtp]?)i?b?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def memory_quantity(value: object) -> str | None:
    """Compose's ``512m``, ``1gb``, ``1.5g`` or a byte count as gitberth's ``512Mi``.

    Docker reads these units as powers of 1024, so ``m`` is ``Mi``. Returns None when the
    value is not a size.
    """
    if isinstance(value, bool):
        return None
    match = _SIZE.fullmatch(str(value).strip())
    if match is None:
        return None
    amount = int(float(match.group("number")) * _UNITS[match.group("unit").lower()])
    if amount <= 0:
        return None
    for suffix, factor in (("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if amount % factor == 0:
            return f"{amount // factor}{suffix}"
    return str(amount)


_NOT_LABEL = re.compile(r"[^a-z0-9-]+")


def dns_label(value: str) -> str | None:
    """Compose names allow ``_``, ``.`` and capitals; gitberth names are DNS labels. Returns
    the nearest label (``db_data`` -> ``db-data``), or None when nothing usable is left."""
    label = _NOT_LABEL.sub("-", value.lower()).strip("-")
    label = re.sub("-{2,}", "-", label)[:63].rstrip("-")
    return label if label and is_dns_label(label) else None
