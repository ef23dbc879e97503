"""Times as the API, the audit log and backups write them: ISO 8601 in UTC with a ``Z``.

One spelling everywhere (``2026-01-31T12:00:00Z``) so clients compare times as they read them;
these functions only format and parse values they are given, and never read the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Precision = Literal["seconds", "milliseconds"]


def utc_text(moment: datetime, *, precision: Precision = "seconds") -> str:
    """*moment* (aware) in UTC, e.g. ``2026-01-31T12:00:00Z`` or ``…T12:00:00.250Z``."""
    return moment.astimezone(UTC).isoformat(timespec=precision).replace("+00:00", "Z")


def parse_zoned(text: str | None) -> float | None:
    """An ISO 8601 time with a zone (``Z`` or an offset) as POSIX seconds; None otherwise,
    since a time without a zone cannot be compared with the server's."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None
