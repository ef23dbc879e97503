"""Who hears about a pass: history, notifications and commit statuses, behind one small seam.

The loop and ``POST /deploy`` both apply revisions; what happened must reach the deploy
history, the notification targets and the forge the same way, whichever applied it. Both call
:meth:`PassObservers.started` before they touch the engine and :meth:`PassObservers.finished`
with a :class:`PassOutcome` after, and know nothing else about who listens.

An observer must be quick and must never raise into a pass: anything slow (HTTP) is queued to a
background worker, and :class:`PassObservers` logs and swallows an observer's error, because
telling people about a pass is never worth failing it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from gitberth.core.sync_status import ActionRecord
from gitberth.reconciler import ActionEvent, AppReport, EventKind, ReconcileResult

logger = logging.getLogger("gitberth.observers")


@dataclass(frozen=True)
class PassOutcome:
    """One finished pass (loop or deploy) with the actions it carried out."""

    revision: str
    result: ReconcileResult
    actions: tuple[ActionRecord, ...]
    trigger: str
    started_at: float
    duration_seconds: float
    only_apps: frozenset[str] | None = None
    """A deploy applies one app; the other apps' reports in its result are not its news."""

    def actions_of(self, app: str) -> tuple[ActionRecord, ...]:
        return tuple(a for a in self.actions if a.app == app)

    def reports_worth_telling(self) -> list[AppReport]:
        """The apps whose pass changed something or failed (the rest are no news)."""
        acted = {a.app for a in self.actions}
        return [
            report
            for name, report in sorted(self.result.apps.items())
            if (name in acted or report.status.is_error)
            and (self.only_apps is None or name in self.only_apps)
        ]


class PassObserver(Protocol):
    def pass_started(self, *, revision: str) -> None:
        """A pass is about to apply *revision*."""
        ...

    def pass_finished(self, outcome: PassOutcome) -> None:
        """A pass on ``outcome.revision`` is over."""
        ...


@dataclass
class PassObservers:
    """The observers of one server; calling it never raises."""

    observers: list[PassObserver] = field(default_factory=list)

    def append(self, observer: PassObserver) -> None:
        self.observers.append(observer)

    def started(self, *, revision: str) -> None:
        for observer in list(self.observers):
            try:
                observer.pass_started(revision=revision)
            except Exception:  # noqa: BLE001 - an observer never fails a pass
                logger.exception("%s failed on pass start", type(observer).__name__)

    def finished(self, outcome: PassOutcome) -> None:
        for observer in list(self.observers):
            try:
                observer.pass_finished(outcome)
            except Exception:  # noqa: BLE001 - an observer never fails a pass
                logger.exception("%s failed on pass end", type(observer).__name__)


class ActionCollector:
    """A reconciler listener that records each finished action as an :class:`ActionRecord`
    (for applies that have no loop around them, such as ``POST /deploy``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._begun: dict[str, float] = {}
        self.records: list[ActionRecord] = []

    def listen(self, event: ActionEvent) -> None:
        action = event.action
        with self._lock:
            if event.kind is EventKind.STARTED:
                self._begun[action.container_name] = time.monotonic()
                return
            took = time.monotonic() - self._begun.pop(action.container_name, time.monotonic())
            self.records.append(
                ActionRecord(
                    kind=action.kind.value,
                    app=action.app,
                    container=action.container_name,
                    reason=action.reason,
                    outcome="ok" if event.kind is EventKind.DONE else "failed",
                    error=event.error,
                    seconds=round(took, 3),
                )
            )

    def snapshot(self) -> tuple[ActionRecord, ...]:
        with self._lock:
            return tuple(self.records)


def short(sha: str | None) -> str:
    return (sha or "")[:12]


def join_names(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))
