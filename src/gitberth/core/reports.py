"""What a pass did to each app: the outcome (:class:`AppStatus`) and the report a person reads.

Kept in the core because status policy (:mod:`gitberth.core.sync_status`) turns these reports
into sync state and health without any I/O; the reconciler produces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from gitberth.core.errors import ManifestProblem
from gitberth.core.observed import ObservedContainer


class AppStatus(StrEnum):
    """What one pass did to one app (not where it stands: that is a ``SyncState``)."""

    UNCHANGED = "unchanged"
    APPLIED = "applied"
    REMOVED = "removed"
    PLANNED = "planned"
    INVALID = "invalid"
    BLOCKED = "blocked"
    FAILED = "failed"

    @property
    def is_error(self) -> bool:
        return self in {AppStatus.INVALID, AppStatus.BLOCKED, AppStatus.FAILED}


@dataclass
class AppReport:
    """How one app fared in a pass, with the error code and names a person needs to act."""

    app: str
    status: AppStatus
    message: str = ""
    code: str | None = None
    missing: tuple[str, ...] = ()
    problems: tuple[ManifestProblem, ...] = ()
    containers: list[ObservedContainer] = field(default_factory=list)
