"""One reconcile pass: read the source, reconcile under the deploy lock, record the outcome.

The revision a pass applies is the one it read under the deploy lock, in the same hold of the
lock: :meth:`PassRunner._reconcile` is handed that revision as a value and reads no other, so
a deploy that commits meanwhile (it holds the same lock, and adopts its commit with
:meth:`PassRunner.adopt`) is applied by the next pass and never undone by this one.

What a pass costs is kept proportional to what changed: the revision and the desired state
built from it are cached by commit sha, so a pass woken by the engine does no Git work and
makes exactly one engine list call when nothing has to change.

Failures are isolated and retried: a bad manifest or secret holds only its app; an app whose
actions fail waits out its own backoff (:class:`~gitberth.retries.AppBackoffs`); an
unreachable engine or unreadable source fails the pass, which is retried with backoff, keeping
the last good revision and pruning nothing until the source is read completely again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import git

from gitberth.core.errors import GitberthError, RuntimeUnavailableError, StorageFullError
from gitberth.core.plan import DesiredState
from gitberth.core.sync_status import PassRecord
from gitberth.git_source import GitSource, RepoSettings
from gitberth.loop_settings import LoopSettings
from gitberth.observers import PassObservers, PassOutcome
from gitberth.pass_recorder import ActionRecorder, PassRecorder
from gitberth.reconciler import (
    AppStatus,
    Desired,
    ReconcileResult,
    SecretSource,
    build_desired,
    history_from_repo,
    reconcile_once,
)
from gitberth.remote import sanitize
from gitberth.retries import AppBackoffs, PassRetry
from gitberth.runtime.base import Runtime, bind_policy_of
from gitberth.source import Revision
from gitberth.triggers import PassRequest

logger = logging.getLogger("gitberth.loop")

DIE_SETTLE_SECONDS = 2.0
"""How long a pass woken by a crash waits for the engine to list that container as stopped."""


class _PassAborted(Exception):
    """Nothing can be applied this pass (no revision yet)."""


class PassRunner:
    """Runs passes one at a time (the caller makes sure) and remembers what they read."""

    def __init__(
        self,
        *,
        settings: LoopSettings,
        source: GitSource,
        runtime: Runtime,
        secrets: SecretSource,
        recorder: PassRecorder,
        observers: PassObservers,
        lock: threading.Lock,
        known_specs: MutableMapping[str, Mapping[str, Any]],
        stop: threading.Event,
        hold_clashes: Callable[[Desired], Desired] | None = None,
    ) -> None:
        """*hold_clashes* (one of several sources of a serve) holds the apps another source
        also declares (:meth:`gitberth.app_claims.AppClaims.holder`)."""
        self.settings = settings
        self._hold_clashes = hold_clashes
        self.source = source
        self.runtime = runtime
        self.secrets = secrets
        self.recorder = recorder
        self.observers = observers
        self.lock = lock
        self.known_specs = known_specs
        self._stop = stop
        self._revision: Revision | None = None
        self._repo_settings = RepoSettings()
        self._desired: Desired | None = None
        self._source_ok = False
        self._retry = PassRetry(settings.pass_backoff)
        self._backoffs = AppBackoffs(settings.app_backoff)
        self.next_resync = time.monotonic() + settings.interval
        self.retry_at: float | None = None

    def adopt(self, sha: str) -> None:
        """Make *sha* the revision the next pass applies; the caller holds :attr:`lock`."""
        self._revision, self._repo_settings = self.source.read(sha)
        self._desired = None
        self._source_ok = True

    def run(self, request: PassRequest) -> PassRecord:
        """One pass now, on the calling thread; never raises (failures are recorded)."""
        started_wall, started = time.time(), time.monotonic()
        errors: list[str] = []
        outcome = "failed"
        applied: str | None = None
        listener: ActionRecorder | None = None
        try:
            if request.reads_source:
                self.next_resync = time.monotonic() + self.settings.interval
            if request.died:
                # The engine reports a crash a moment before its container list shows it
                # stopped; wait for it to agree, so this pass sees what it must restart.
                self.runtime.settle(request.died, timeout=DIE_SETTLE_SECONDS)
            with self.lock:
                revision = self._read_source(request, errors)
                applied = revision.sha
                self.observers.started(revision=revision.sha)
                listener = self.recorder.actions(revision.sha)
                result = self._reconcile(revision, rebuild=request.rebuild, listener=listener)
            outcome = self._record(result, errors)
            self.observers.finished(
                PassOutcome(
                    revision=result.revision,
                    result=result,
                    actions=tuple(listener.actions),
                    trigger=request.trigger,
                    started_at=started_wall,
                    duration_seconds=round(time.monotonic() - started, 4),
                )
            )
            self.recorder.engine(error=None)
        except RuntimeUnavailableError as exc:
            message = sanitize(str(exc))
            self.recorder.engine(error=message)
            errors.append(message)
        except _PassAborted as exc:
            errors.append(str(exc))
        except StorageFullError as exc:  # retried with backoff; what runs is left as it is
            errors.append(str(exc))
            logger.warning("%s", exc)
        except Exception as exc:  # noqa: BLE001 - the loop must outlive any one pass
            logger.exception("reconcile pass failed unexpectedly")
            errors.append(f"unexpected {type(exc).__name__}: {sanitize(str(exc))}")
        self._schedule_retry(failed=outcome == "failed" or not self._source_ok)
        record = PassRecord(
            started_at=started_wall,
            duration_seconds=round(time.monotonic() - started, 4),
            trigger=request.trigger,
            revision=applied,
            outcome=outcome,
            actions=tuple(listener.actions) if listener is not None else (),
            errors=tuple(errors),
        )
        self.recorder.finish(record, revision=self._revision.sha if self._revision else None)
        return record

    def _read_source(self, request: PassRequest, errors: list[str]) -> Revision:
        """The revision to apply: the branch tip, fetched and read when *request* asks (the
        caller holds the deploy lock, so the tip is never older than an adopted deploy), else
        the last one read; on failure the last good one."""
        if request.reads_source or self._revision is None:
            try:
                if request.fetch:
                    self.source.fetch()
                sha = self.source.head()
                if self._revision is None or sha != self._revision.sha or not self._source_ok:
                    self._revision, self._repo_settings = self.source.read(sha)
                    self._desired = None
                    logger.info("revision %s of %s", self._revision.short, self.source.display)
                self._source_ok = True
                self.recorder.source(error=None)
            except (GitberthError, git.GitError, ValueError, OSError) as exc:
                message = sanitize(str(exc))
                self._source_ok = False
                self.recorder.source(error=message)
                errors.append(message)
                logger.warning("source unreadable, keeping the last good revision: %s", message)
        if self._revision is None:
            raise _PassAborted("no revision could be read yet")
        return self._revision

    def _reconcile(
        self, revision: Revision, *, rebuild: bool, listener: ActionRecorder
    ) -> ReconcileResult:
        """Make the engine match *revision*, except for apps waiting out a backoff."""
        desired = self._desired_state(revision, rebuild=rebuild)
        if self._hold_clashes is not None:
            desired = self._hold_clashes(desired)
        waiting = self._backoffs.waiting(desired.state)
        if waiting:
            held = {**desired.state.held, **{app: "backing off" for app in waiting}}
            state = DesiredState(desired.state.revision, desired.state.apps, held)
            desired = Desired(state, desired.loaded, desired.reports)
        result = reconcile_once(
            revision=revision,
            runtime=self.runtime,
            secrets=self.secrets,
            listener=listener,
            on_app_done=listener.app_done,
            known_specs=self.known_specs,
            history=history_from_repo(
                self.source.repo,
                apps_dir=self.settings.apps_dir,
                secrets=self.secrets,
                publish=self.settings.publish,
                binds=bind_policy_of(self.runtime),
            ),
            workers=self.settings.workers,
            desired=desired,
            prune=self._source_ok,
            allow_empty=self._repo_settings.allow_empty,
            stop=self._stop,
        )
        for app in waiting:
            report = result.apps.pop(app, None)
            if report is not None:
                self.recorder.status.observe_containers(app, report.containers)
        return result

    def _desired_state(self, revision: Revision, *, rebuild: bool) -> Desired:
        """The desired state of *revision*, built again when asked (a secret changed) or when
        an app was blocked (a missing secret may exist now)."""
        cached = self._desired
        if (
            cached is None
            or cached.state.revision != revision.sha
            or rebuild
            or any(r.status is AppStatus.BLOCKED for r in cached.reports.values())
        ):
            cached = self._desired = build_desired(
                revision,
                secrets=self.secrets,
                publish=self.settings.publish,
                binds=bind_policy_of(self.runtime),
            )
        return cached

    def _record(self, result: ReconcileResult, errors: list[str]) -> str:
        assert self._desired is not None
        for name, report in result.apps.items():
            if report.status is not AppStatus.REMOVED:
                failed = report.status is AppStatus.FAILED and report.code != "interrupted"
                self._backoffs.note(name, failed=failed, desired=self._desired.state)
        return self.recorder.record_apps(result, keep=self._backoffs.apps(), errors=errors)

    def _schedule_retry(self, *, failed: bool) -> None:
        delay = self._retry.after(failed=failed)
        self.retry_at = time.monotonic() + delay if delay is not None else None
        self.recorder.state.next_retry_in = round(delay, 3) if delay is not None else None
        soonest = self._backoffs.soonest()
        if soonest is not None and (self.retry_at is None or soonest < self.retry_at):
            self.retry_at = soonest
