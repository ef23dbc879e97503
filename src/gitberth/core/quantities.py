"""Durations and sizes written the way docker compose writes them, read exactly and shown back.

Compose takes durations in Go's notation (``500ms``, ``2s``, ``1m30s``, ``1.5h``) and memory
sizes as a number with a unit (``256m``, ``1g``); Kubernetes users write ``256Mi``. Both are
accepted. Values are kept as integers (nanoseconds, bytes) so that two spellings of the same
amount (``90s`` and ``1m30s``) hash and compare equal, and are shown back in one canonical
spelling in plans.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
MAX_DURATION_NS = 24 * 3_600_000_000_000
"""A day: longer health check intervals or grace periods are certainly a typo."""


def parse_duration(text: object) -> int:
    """Nanoseconds of a compose duration such as ``1m30s``; ValueError saying what is wrong.

    A bare number is refused: compose reads it in different units in different places, so a
    unit keeps the meaning clear.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError("must be a duration such as 500ms, 2s or 1m30s")
    if not isinstance(text, str):
        shown = f"{text:g}" if abs(text) < 1e9 else "a number"
        raise ValueError(f"{shown} needs a unit: write e.g. {shown}s (500ms, 2s and 1m30s work)")
    position, total = 0, Decimal(0)
    spelled = text.strip()
    while position < len(spelled):
        match = _DURATION_PART.match(spelled, position)
        if match is None:
            raise ValueError(
                f"{_clip(text)!r} is not a duration: write e.g. 500ms, 2s or 1m30s "
                "(units ns, us, ms, s, m, h)"
            )
        try:
            total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        except InvalidOperation as exc:  # pragma: no cover - the pattern admits only numbers
            raise ValueError(f"{text!r} is not a duration") from exc
        if total > MAX_DURATION_NS:
            raise ValueError("is longer than a day")
        position = match.end()
    if not spelled:
        raise ValueError("must be a duration such as 500ms, 2s or 1m30s, not empty")
    return int(total)


def format_duration(nanoseconds: int) -> str:
    """The canonical compose spelling: ``1m30s``, ``500ms``, ``0s``."""
    if nanoseconds == 0:
        return "0s"
    parts: list[str] = []
    rest = nanoseconds
    for unit in ("h", "m", "s", "ms", "us", "ns"):
        size = _DURATION_UNITS[unit]
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_bytes(text: object) -> int:
    """Bytes of a size such as ``256Mi``, ``256m``, ``1g`` or ``1.5Gi``.

    Every unit is binary (``m`` = ``Mi`` = ``MB`` = 1024²), as the Docker engine reads them; a
    bare number is bytes.
    """
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError("must be a size such as 256Mi, 512m or 1g")
    if isinstance(text, int):
        return _bounded(Decimal(text), text)
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{_clip(text)!r} is not a size: write e.g. 256Mi, 512m or 1g")
    number, unit = match.groups()
    factor = _SIZE_FACTORS[(unit or "").lower()[:1]]
    return _bounded(Decimal(number) * factor, text)


MAX_BYTES = 1024**5
"""A pebibyte: a larger size is certainly a typo (and an absurdly long number is refused before
it is ever turned into text)."""


def _bounded(size: Decimal, text: object) -> int:
    if size > MAX_BYTES:
        raise ValueError("is more than 1Pi")
    return int(size)


def format_bytes(size: int) -> str:
    """The shortest exact binary spelling: ``256Mi``, ``1Gi``, ``1536Ki``, ``100``."""
    for unit, factor in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def _clip(text: str) -> str:
    """Echo at most a short piece of a bad value in an error message."""
    return text if len(text) <= 40 else text[:40] + "…"
