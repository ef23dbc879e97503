"""What a pass leaves behind: app states, the loop's state, metrics, log lines.

The pass runner decides; this module only writes down. :class:`ActionRecorder` listens to the
actions of one pass (status shows an app Progressing while its action runs; each finished
action becomes an :class:`~gitberth.core.sync_status.ActionRecord`, a metric and, when it
failed, a log line); :class:`PassRecorder` stores the app states a result implies, then the
pass record.
"""

from __future__ import annotations

import logging
import threading
import time

from gitberth.core.sync_status import (
    ActionRecord,
    AppStanding,
    PassRecord,
    SourceStanding,
    app_standing,
)
from gitberth.metrics import LoopMetrics
from gitberth.reconciler import ActionEvent, AppReport, AppStatus, EventKind, ReconcileResult
from gitberth.status import StatusStore

logger = logging.getLogger("gitberth.loop")


class ActionRecorder:
    """The listener of one pass's actions (called from the reconciler's worker threads)."""

    def __init__(self, *, status: StatusStore, metrics: LoopMetrics, revision: str) -> None:
        self.actions: list[ActionRecord] = []
        self._status = status
        self._metrics = metrics
        self._revision = revision
        self._lock = threading.Lock()
        self._begun: dict[str, float] = {}

    def __call__(self, event: ActionEvent) -> None:
        with self._lock:
            if event.kind is EventKind.STARTED:
                self._started(event)
            else:
                self._ended(event)

    def app_done(self, report: AppReport) -> None:
        """Store where an app stands as soon as its actions are done, not when the whole pass
        is: converging 1,000 new apps is one pass of many minutes, and status (the dashboard,
        ``GET /apps``) should show each app Synced as it gets there. The pass's own record
        of the same report, at its end, then finds nothing new to store."""
        with self._lock:
            if report.status is AppStatus.REMOVED:
                self._status.put_apps([], removed=[report.app])
                return
            previous = self._status.app(report.app)
            state = app_standing(
                report, revision=self._revision, previous=previous, now=time.time()
            )
            self._status.put_apps([state], removed=[])

    def _started(self, event: ActionEvent) -> None:
        action = event.action
        self._begun[action.container_name] = time.monotonic()
        self._status.mark_progressing(action.app, revision=self._revision)
        logger.info(
            "%s",
            action.describe(),
            extra={"fields": {
                "event": "action", "kind": action.kind.value, "app": action.app,
                "container": action.container_name, "reason": action.reason,
                "revision": self._revision,
            }},
        )  # fmt: skip

    def _ended(self, event: ActionEvent) -> None:
        action = event.action
        took = time.monotonic() - self._begun.pop(action.container_name, time.monotonic())
        outcome = "ok" if event.kind is EventKind.DONE else "failed"
        self.actions.append(
            ActionRecord(
                kind=action.kind.value,
                app=action.app,
                container=action.container_name,
                reason=action.reason,
                outcome=outcome,
                error=event.error,
                seconds=round(took, 3),
            )
        )
        self._metrics.actions.labels(kind=action.kind.value, outcome=outcome).inc()
        if outcome == "failed":
            logger.warning(
                "%s failed: %s",
                action.container_name,
                event.error,
                extra={"fields": {
                    "event": "action_failed", "kind": action.kind.value, "app": action.app,
                    "container": action.container_name, "error": event.error,
                    "revision": self._revision,
                }},
            )  # fmt: skip


class PassRecorder:
    """Keeps the loop's state and writes each pass's outcome to status, metrics and the log."""

    def __init__(self, *, status: StatusStore, metrics: LoopMetrics, state: SourceStanding) -> None:
        self.status = status
        self.metrics = metrics
        self.state = state
        self._recorded: dict[str, tuple[tuple[object, ...], AppStanding]] = {}
        """Per app: what its last report said, and the state stored from it."""
        metrics.set_apps({s.value: n for s, n in status.counts().items()})

    def actions(self, revision: str) -> ActionRecorder:
        return ActionRecorder(status=self.status, metrics=self.metrics, revision=revision)

    def record_apps(self, result: ReconcileResult, *, keep: set[str], errors: list[str]) -> str:
        """Store the app states *result* implies (apps neither in it nor in *keep* are gone);
        add each app's error to *errors*; return the pass's outcome.

        An app whose report is what it was at the last pass, and whose stored state nobody
        has replaced since (an engine event, an action), is not worked out again: at 1,000
        apps that was most of a no-op pass.
        """
        now = time.time()
        states: list[AppStanding] = []
        removed: list[str] = []
        inputs: dict[str, tuple[object, ...]] = {}
        for name, report in result.apps.items():
            if report.status is AppStatus.REMOVED:
                removed.append(name)
                continue
            if report.status.is_error:
                errors.append(f"{name}: {report.message}")
            previous = self.status.app(name)
            key = _report_key(report, revision=result.revision)
            last = self._recorded.get(name)
            if previous is not None and last is not None and last[1] is previous:
                if last[0] == key:
                    continue
            state = app_standing(report, revision=result.revision, previous=previous, now=now)
            if previous is None or _differs(previous, state):
                states.append(state)
                inputs[name] = key
            else:
                self._recorded[name] = (key, previous)
        known = set(result.apps) | keep
        removed.extend(s.name for s in self.status.apps() if s.name not in known)
        self.status.put_apps(states, removed=removed)
        for name in removed:
            self._recorded.pop(name, None)
        for name, key in inputs.items():
            stored = self.status.app(name)
            if stored is not None:
                self._recorded[name] = (key, stored)
        self.state.left_alone = list(result.left_alone)
        self.metrics.set_apps({s.value: n for s, n in self.status.counts().items()})
        if result.prune_refused:
            errors.append(result.prune_refused)
        if not result.plan.changes and not errors:
            return "noop"
        if not errors:
            self.metrics.last_applied.set(now)
            self.state.last_applied_at = now
            return "applied"
        return "errors"

    def engine(self, *, error: str | None) -> None:
        """Whether the engine answered this pass (and why not)."""
        self.state.docker_reachable, self.state.docker_error = error is None, error
        self.metrics.docker_up.set(1 if error is None else 0)

    def source(self, *, error: str | None) -> None:
        """Whether the source was read completely this pass (and why not).

        A change is stored at once, not with the pass at its end: apps show each action's
        outcome as it happens (:meth:`ActionRecorder.app_done`), and a source that recovered
        must not still show its old error beside the apps its new revision already moved
        (nor a new error only once the pass's rollouts are over). Unchanged, it waits for the
        pass's record: no write per pass.
        """
        changed = error != self.state.source_error
        self.state.source_error = error
        self.metrics.source_up.set(1 if error is None else 0)
        if changed:
            try:
                self.status.put_loop(self.state)
            except Exception:  # noqa: BLE001 - status is best effort; the pass records it again
                logger.exception("could not record the source's state")

    def finish(self, record: PassRecord, *, revision: str | None) -> None:
        """Store the pass (with the loop's state), count it, and log it when it did or
        failed anything."""
        self.state.revision = revision
        self.state.last_pass_at = record.started_at
        try:
            self.status.record_pass(self.state, record)
        except Exception:  # noqa: BLE001 - status is best effort; never stop the loop for it
            logger.exception("could not record the pass")
        self.metrics.pass_duration.observe(record.duration_seconds)
        self.metrics.passes.labels(outcome=record.outcome).inc()
        if record.actions or record.errors:
            logger.info(
                "pass %s: revision=%s actions=%d errors=%d duration=%.3fs trigger=%s",
                record.outcome,
                (record.revision or "-")[:12],
                len(record.actions),
                len(record.errors),
                record.duration_seconds,
                record.trigger,
                extra={"fields": {
                    "event": "pass", "outcome": record.outcome, "revision": record.revision,
                    "actions": len(record.actions), "errors": list(record.errors),
                    "duration_seconds": record.duration_seconds, "trigger": record.trigger,
                }},
            )  # fmt: skip
            for error in record.errors:
                logger.warning("  %s", error)


def _report_key(report: AppReport, *, revision: str) -> tuple[object, ...]:
    """Everything of *report* (and the revision) that :func:`app_standing` reads."""
    return (
        revision,
        report.status,
        report.code,
        report.message,
        report.missing,
        report.problems,
        tuple(report.containers),
    )


def _differs(old: AppStanding, new: AppStanding) -> bool:
    """True when anything but the timestamps changed (saves writing no-op passes)."""
    if (old.error is None) != (new.error is None):
        return True
    if old.error is not None and new.error is not None:
        if (old.error.kind, old.error.code, old.error.message) != (
            new.error.kind,
            new.error.code,
            new.error.message,
        ):
            return True
    return (
        old.sync,
        old.health,
        old.desired_revision,
        old.applied_revision,
        old.containers,
    ) != (new.sync, new.health, new.desired_revision, new.applied_revision, new.containers)
