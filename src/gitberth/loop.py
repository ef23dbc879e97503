"""The continuous reconcile loop behind ``gitberth serve``: triggers in, one pass at a time.

Anything that may mean "the world differs from Git" is a *trigger*: a new commit on a watched
local branch (watchfiles on the ref and ``packed-refs``), a periodic fetch of a remote, a
webhook, a managed container dying or vanishing (the runtime's events), a secret change, a retry.
Triggers only wake the loop; they carry no instructions, because every pass is level-based: it
compares the whole desired state with the whole observed state (``reconcile_once``), so a
crash anywhere is repaired by the next pass and it does not matter which trigger woke it.
Triggers that arrive while a pass runs coalesce into one follow-up pass.

What a pass costs is kept proportional to what changed. The revision read from Git and the
desired state built from it are cached by commit sha, so a pass woken by the engine does no Git
work and makes exactly one engine list call when nothing has to change.

Failures are isolated and retried: a bad manifest or secret holds only its app; a rollout that
fails puts only its app into an exponential backoff (until the spec changes); an unreachable
engine or unreadable source fails the pass, which is retried with backoff, keeping the last
good revision and pruning nothing until the source is read completely again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import watchfiles

from gitberth.core.backoff import Backoff
from gitberth.core.container_options import PublishPolicy
from gitberth.core.errors import (
    ConfigError,
    GitberthError,
    RuntimeUnavailableError,
    StorageFullError,
)
from gitberth.core.plan import DesiredState
from gitberth.defaults import (
    DEFAULT_APPS_DIR,
    DEFAULT_BRANCH,
    DEFAULT_INTERVAL,
    DEFAULT_SECRETS_ROOT,
    DEFAULT_WORKERS,
)
from gitberth.git_credentials import CredentialsLoader, store_loader
from gitberth.metrics import LoopMetrics
from gitberth.observers import PassObservers, PassOutcome
from gitberth.reconciler import (
    ActionEvent,
    AppStatus,
    Desired,
    EventKind,
    NoSecretStore,
    ReconcileResult,
    RepoSettings,
    SecretSource,
    build_desired,
    history_from_repo,
    read_settings,
    reconcile_once,
)
from gitberth.remote import RemoteRepo, is_remote, sanitize
from gitberth.runtime.base import Runtime, RuntimeEvent, bind_policy_of
from gitberth.source import (
    RepoPerThread,
    Revision,
    open_repo,
    read_revision,
    resolve_commit,
)
from gitberth.status import (
    ActionRecord,
    AppState,
    LoopState,
    PassRecord,
    StatusStore,
    SyncState,
    app_state,
)

logger = logging.getLogger("gitberth.loop")

WATCH_DEBOUNCE_MS = 30
DIE_SETTLE_SECONDS = 2.0
"""How long a pass woken by ``die`` waits for the engine to list that container as stopped."""


@dataclass(frozen=True)
class LoopSettings:
    """How the loop follows its source; ``serve`` fills this from its options."""

    repo: str
    state_dir: Path
    branch: str = DEFAULT_BRANCH
    apps_dir: str = DEFAULT_APPS_DIR
    interval: float = DEFAULT_INTERVAL
    """Seconds between fetches of a remote, and between full resyncs of a local repo."""
    workers: int = DEFAULT_WORKERS
    retry_base: float = 0.5
    retry_max: float = 30.0
    """Backoff of a failed pass (engine unreachable, unreadable source)."""
    app_backoff_base: float = 10.0
    app_backoff_max: float = 600.0
    """Backoff of one app whose actions failed, while its desired spec stays the same."""
    watch: bool = True
    docker_events: bool = True
    publish: PublishPolicy = field(default_factory=PublishPolicy)
    """The server's default publish address and the host ports it keeps for itself."""
    credentials_secret: str | None = None
    """The shared gitberth secret holding the remote's credentials (``--repo-credentials``)."""
    secrets_dir: Path = DEFAULT_SECRETS_ROOT
    """The RAM-backed directory where a Git command's credentials live while it runs."""


class GitSource:
    """The Git side of the loop: a local repository, or the state-dir mirror of a remote.

    Every thread that reads through it (the loop, each deploy request) gets its own
    ``git.Repo`` (see :class:`~gitberth.source.RepoPerThread`)."""

    def __init__(
        self,
        repo: str,
        *,
        state_dir: Path,
        branch: str,
        apps_dir: str,
        credentials: CredentialsLoader | None = None,
        secrets_dir: Path = DEFAULT_SECRETS_ROOT,
    ) -> None:
        self.branch = branch
        self.apps_dir = apps_dir
        if credentials is not None and not is_remote(repo):
            raise ConfigError(
                f"{repo} is a local path: credentials are for a remote URL (https or ssh)"
            )
        self.remote = (
            RemoteRepo(repo, state_dir=state_dir, credentials=credentials, ram_dir=secrets_dir)
            if is_remote(repo)
            else None
        )
        self.display = self.remote.display if self.remote else str(Path(repo).resolve())
        self._path = None if self.remote else Path(repo)
        self.repos = RepoPerThread(self._open)

    def _open(self) -> git.Repo:
        if self.remote is not None:
            return self.remote.open_reader()
        assert self._path is not None
        return open_repo(self._path)

    @property
    def repo(self) -> git.Repo:
        """The calling thread's Repo."""
        return self.repos.get()

    def fetch(self) -> None:
        """Bring the mirror up to date (remote only; a local repo is always current)."""
        if self.remote is not None:
            self.remote.fetch()

    def head(self) -> str:
        return self.repos.read(lambda repo: resolve_commit(repo, branch=self.branch))

    def read(self, sha: str) -> tuple[Revision, RepoSettings]:
        return self.repos.read(
            lambda repo: (
                read_revision(repo, rev=sha, apps_dir=self.apps_dir),
                read_settings(repo, sha=sha),
            )
        )

    def watched_files(self) -> tuple[Path, ...]:
        """The files whose change means a new commit on the branch (local repos only)."""
        if self.remote is not None:
            return ()
        git_dir = Path(self.repo.git_dir).resolve()
        return (git_dir / "refs" / "heads" / self.branch, git_dir / "packed-refs")


def _credentials_loader(settings: LoopSettings, secrets: SecretSource) -> CredentialsLoader | None:
    """Reads the source's credentials secret from the store before every Git command."""
    name = settings.credentials_secret
    if name is None:
        return None
    return store_loader(
        lambda: secrets.materials([(None, name)]), secret=name, url=sanitize(settings.repo)
    )


@dataclass
class _Pending:
    reasons: list[str] = field(default_factory=list)
    fetch: bool = False
    read: bool = False
    rebuild: bool = False
    died: set[str] = field(default_factory=set)
    """Ids of containers whose ``die`` event woke this pass (see :meth:`Loop.run_pass`)."""

    def merge(
        self, reason: str, *, fetch: bool, read: bool, rebuild: bool, died: str | None = None
    ) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.fetch |= fetch
        self.read |= read
        self.rebuild |= rebuild
        if died is not None:
            self.died.add(died)


@dataclass
class _AppBackoff:
    spec: tuple[str, ...]
    attempts: int
    until: float


class Loop:
    """Runs reconcile passes on triggers, one at a time, until :meth:`stop`.

    ``serve`` needs four lines: build it, ``start()`` it at startup, ``stop()`` it at shutdown,
    and include the routers of :mod:`gitberth.api.routes_status` and ``routes_hooks``. Tests
    can instead call :meth:`run_pass` directly.
    """

    def __init__(
        self,
        *,
        settings: LoopSettings,
        runtime: Runtime,
        status: StatusStore,
        metrics: LoopMetrics | None = None,
        secrets: SecretSource | None = None,
        lock: threading.Lock | None = None,
        known_specs: MutableMapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """*lock* is held while a pass changes the engine; share it with anything else that
        applies (``POST /deploy``) so two reconcilers never race for one container name.
        *known_specs* (e.g. a persistent ledger) explains replacements after a restart."""
        self.settings = settings
        self.runtime = runtime
        self.status = status
        self.metrics = metrics or LoopMetrics()
        self.secrets: SecretSource = secrets or NoSecretStore()
        self.source = GitSource(
            settings.repo,
            state_dir=settings.state_dir,
            branch=settings.branch,
            apps_dir=settings.apps_dir,
            credentials=_credentials_loader(settings, self.secrets),
            secrets_dir=settings.secrets_dir,
        )
        self._condition = threading.Condition()
        self._pending: _Pending | None = _Pending(["start"], fetch=True, read=True)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._revision: Revision | None = None
        self._repo_settings = RepoSettings()
        self._desired: Desired | None = None
        self._source_ok = False
        self.known_specs: MutableMapping[str, Mapping[str, Any]] = (
            known_specs if known_specs is not None else {}
        )
        self.lock = lock or threading.Lock()
        self._app_backoff: dict[str, _AppBackoff] = {}
        self._failures = 0
        self._pass_backoff = Backoff(settings.retry_base, settings.retry_max)
        self._retry_at: float | None = None
        self._next_resync = time.monotonic() + settings.interval
        self._passes = 0
        self._state = status.loop()
        self._state.source, self._state.branch = self.source.display, settings.branch
        self._state.source_id = runtime.source
        self.metrics.docker_up.set(1)
        self.metrics.set_apps({s.value: n for s, n in status.counts().items()})
        self.observers = PassObservers()
        """Told of every pass (deploy history, notifications, commit status)."""

    # -- triggers ---------------------------------------------------------------------------

    def trigger(
        self,
        reason: str,
        *,
        fetch: bool = False,
        read: bool = False,
        rebuild: bool = False,
        died: str | None = None,
    ) -> None:
        """Ask for a pass. *fetch* fetches a remote first; *read* re-reads the branch tip;
        *rebuild* resolves the manifests again (a secret changed); *died* is the id of a
        container that just died. Coalesces with any pass already asked for."""
        with self._condition:
            if self._pending is None:
                self._pending = _Pending()
            self._pending.merge(reason, fetch=fetch, read=read, rebuild=rebuild, died=died)
            self._condition.notify_all()

    def secrets_changed(self, name: str, app_id: str | None) -> None:
        """A ``ServerContext.on_secrets_changed`` subscriber: rebuild and reconcile (and fetch
        at once when it is the source's credentials secret, e.g. a rotated token)."""
        if app_id is None and name == self.settings.credentials_secret:
            self.trigger("credentials secret changed", fetch=True, read=True, rebuild=True)
            return
        self.trigger("secret changed", rebuild=True)

    @property
    def passes(self) -> int:
        """How many passes have finished (tests wait on it)."""
        with self._condition:
            return self._passes

    def wait_for_passes(self, count: int, *, timeout: float) -> bool:
        """Block until at least *count* passes have finished; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._passes < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the pass worker, the Git watcher (local repo) and the runtime's event stream."""
        self._spawn("gitberth-loop", self._work)
        if self.settings.watch and self.source.remote is None:
            self._spawn("gitberth-git-watch", self._watch_git)
        if self.settings.docker_events:
            self._spawn("gitberth-runtime-events", self._watch_runtime)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, *, timeout: float = 60.0) -> None:
        """Finish the action in flight, start no other, and stop every thread."""
        self._stopping.set()
        with self._condition:
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        if self._threads:
            logger.info("reconcile loop stopped")
        self._threads.clear()

    def _work(self) -> None:
        while not self._stopping.is_set():
            work = self._next_work()
            if work is None:
                return
            self.run_pass(work)

    def _next_work(self) -> _Pending | None:
        with self._condition:
            while True:
                if self._stopping.is_set():
                    return None
                if self._pending is not None:
                    work, self._pending = self._pending, None
                    return work
                now = time.monotonic()
                if now >= self._next_resync:
                    return _Pending(["periodic resync"], fetch=True, read=True)
                if self._retry_at is not None and now >= self._retry_at:
                    return _Pending(["retry"], fetch=True, read=True)
                deadline = min(self._next_resync, self._retry_at or math.inf)
                self._condition.wait(max(0.01, deadline - now))

    # -- one pass ---------------------------------------------------------------------------

    def run_pass(self, work: _Pending | None = None) -> PassRecord:
        """One pass now, on the calling thread; never raises (failures are recorded)."""
        work = work or _Pending(["manual"], fetch=True, read=True)
        started_wall, started = time.time(), time.monotonic()
        actions: list[ActionRecord] = []
        errors: list[str] = []
        outcome = "failed"
        revision: str | None = None
        try:
            if work.fetch or work.read:
                self._next_resync = time.monotonic() + self.settings.interval
            if work.died:
                # Docker sends ``die`` a moment before its container list says "exited"; wait
                # for the engine to agree, so this pass sees the container it must restart.
                self.runtime.settle(work.died, timeout=DIE_SETTLE_SECONDS)
            self._refresh_source(work, errors)
            if self._revision is None:
                raise _PassAborted("no revision could be read yet")
            revision = self._revision.sha
            self.observers.started(revision=revision)
            result = self._reconcile(work, actions)
            outcome = self._record_result(result, errors)
            self.observers.finished(
                PassOutcome(
                    revision=result.revision,
                    result=result,
                    actions=tuple(actions),
                    trigger=", ".join(work.reasons),
                    started_at=started_wall,
                    duration_seconds=round(time.monotonic() - started, 4),
                )
            )
            self._state.docker_reachable, self._state.docker_error = True, None
            self.metrics.docker_up.set(1)
        except RuntimeUnavailableError as exc:
            message = sanitize(str(exc))
            self._state.docker_reachable, self._state.docker_error = False, message
            self.metrics.docker_up.set(0)
            errors.append(message)
        except _PassAborted as exc:
            errors.append(str(exc))
        except StorageFullError as exc:  # retried with backoff; what runs is left as it is
            errors.append(str(exc))
            logger.warning("%s", exc)
        except Exception as exc:  # noqa: BLE001 - the loop must outlive any one pass
            logger.exception("reconcile pass failed unexpectedly")
            errors.append(f"unexpected {type(exc).__name__}: {sanitize(str(exc))}")
        duration = time.monotonic() - started
        self._schedule_retry(outcome)
        record = PassRecord(
            started_at=started_wall,
            duration_seconds=round(duration, 4),
            trigger=", ".join(work.reasons),
            revision=revision,
            outcome=outcome,
            actions=tuple(actions),
            errors=tuple(errors),
        )
        self._finish(record)
        return record

    def _refresh_source(self, work: _Pending, errors: list[str]) -> None:
        """Fetch and read the branch when asked; on failure keep the last good revision."""
        if not (work.fetch or work.read) and self._revision is not None:
            return
        try:
            # Under the deploy lock: a deploy commits (and fetches, for a remote) and adopts its
            # commit under it, so the tip read here is never older than an adopted revision.
            with self.lock:
                if work.fetch:
                    self.source.fetch()
                sha = self.source.head()
                if self._revision is None or sha != self._revision.sha or not self._source_ok:
                    revision, repo_settings = self.source.read(sha)
                    self._revision, self._repo_settings = revision, repo_settings
                    self._desired = None
                    logger.info("revision %s of %s", revision.short, self.source.display)
            self._source_ok = True
            self._state.source_error = None
            self.metrics.source_up.set(1)
        except (GitberthError, git.GitError, ValueError, OSError) as exc:
            message = sanitize(str(exc))
            self._source_ok = False
            self._state.source_error = message
            self.metrics.source_up.set(0)
            errors.append(message)
            logger.warning("source unreadable, keeping the last good revision: %s", message)

    def adopt_revision(self, sha: str) -> None:
        """Make *sha* (just committed by a deploy, which holds :attr:`lock`) the revision the
        next pass applies, so a pass woken meanwhile never applies the older one."""
        revision, repo_settings = self.source.read(sha)
        self._revision, self._repo_settings = revision, repo_settings
        self._desired = None
        self._source_ok = True

    def _reconcile(self, work: _Pending, actions: list[ActionRecord]) -> ReconcileResult:
        # Desired state is built under the lock: a deploy may have adopted a newer revision
        # while this pass waited for it.
        with self.lock:
            return self._reconcile_under_lock(work, actions)

    def _reconcile_under_lock(self, work: _Pending, actions: list[ActionRecord]) -> ReconcileResult:
        assert self._revision is not None
        if self._desired is None or work.rebuild or _has_blocked(self._desired):
            self._desired = build_desired(
                self._revision,
                secrets=self.secrets,
                publish=self.settings.publish,
                binds=bind_policy_of(self.runtime),
            )
        desired = self._desired
        skipped = self._apps_in_backoff(desired)
        if skipped:
            held = {**desired.state.held, **{app: "backing off" for app in skipped}}
            desired = Desired(
                DesiredState(desired.state.revision, desired.state.apps, held),
                desired.loaded,
                desired.reports,
            )
        revision = self._revision.sha
        lock = threading.Lock()
        begun: dict[str, float] = {}

        def listen(event: ActionEvent) -> None:
            action = event.action
            with lock:
                if event.kind is EventKind.STARTED:
                    begun[action.container_name] = time.monotonic()
                    self.status.mark_progressing(action.app, revision=revision)
                    logger.info(
                        "%s",
                        action.describe(),
                        extra={"fields": {
                            "event": "action", "kind": action.kind.value, "app": action.app,
                            "container": action.container_name, "reason": action.reason,
                            "revision": revision,
                        }},
                    )  # fmt: skip
                    return
                took = time.monotonic() - begun.pop(action.container_name, time.monotonic())
                ok = event.kind is EventKind.DONE
                actions.append(
                    ActionRecord(
                        kind=action.kind.value,
                        app=action.app,
                        container=action.container_name,
                        reason=action.reason,
                        outcome="ok" if ok else "failed",
                        error=event.error,
                        seconds=round(took, 3),
                    )
                )
                self.metrics.actions.labels(
                    kind=action.kind.value, outcome="ok" if ok else "failed"
                ).inc()
                if not ok:
                    logger.warning(
                        "%s failed: %s",
                        action.container_name,
                        event.error,
                        extra={"fields": {
                            "event": "action_failed", "kind": action.kind.value,
                            "app": action.app, "container": action.container_name,
                            "error": event.error, "revision": revision,
                        }},
                    )  # fmt: skip

        result = self._reconcile_locked(desired, listen)
        for app in skipped:
            report = result.apps.pop(app, None)
            if report is not None:
                self.status.observe_containers(app, report.containers)
        return result

    def _reconcile_locked(
        self, desired: Desired, listen: Callable[[ActionEvent], None]
    ) -> ReconcileResult:
        assert self._revision is not None
        return reconcile_once(
            revision=self._revision,
            runtime=self.runtime,
            secrets=self.secrets,
            listener=listen,
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
            stop=self._stopping,
        )

    def _apps_in_backoff(self, desired: Desired) -> set[str]:
        now = time.monotonic()
        skipped: set[str] = set()
        for app, backoff in list(self._app_backoff.items()):
            if backoff.spec != _spec_key(desired, app):
                del self._app_backoff[app]  # the spec changed: try the new one at once
            elif now < backoff.until:
                skipped.add(app)
        return skipped

    def _record_result(self, result: ReconcileResult, errors: list[str]) -> str:
        """Update app states, app backoffs and metrics from *result*; return the outcome."""
        assert self._desired is not None
        now = time.time()
        states: list[AppState] = []
        removed: list[str] = []
        for name, report in result.apps.items():
            if report.status is AppStatus.REMOVED:
                removed.append(name)
                continue
            previous = self.status.app(name)
            state = app_state(report, revision=result.revision, previous=previous, now=now)
            if previous is None or _differs(previous, state):
                states.append(state)
            self._note_backoff(name, report.status, report.code)
            if report.status.is_error:
                errors.append(f"{name}: {report.message}")
        known = set(result.apps) | set(self._app_backoff)
        removed.extend(s.name for s in self.status.apps() if s.name not in known)
        self.status.put_apps(states, removed=removed)
        self._state.left_alone = list(result.left_alone)
        self.metrics.set_apps({s.value: n for s, n in self.status.counts().items()})
        if result.prune_refused:
            errors.append(result.prune_refused)
        if not result.plan.changes and not errors:
            return "noop"
        if not errors:
            self.metrics.last_applied.set(now)
            self._state.last_applied_at = now
            return "applied"
        return "errors"

    def _note_backoff(self, app: str, status: AppStatus, code: str | None) -> None:
        if status is not AppStatus.FAILED or code == "interrupted":
            self._app_backoff.pop(app, None)
            return
        assert self._desired is not None
        previous = self._app_backoff.get(app)
        attempts = previous.attempts + 1 if previous else 1
        delay = Backoff(self.settings.app_backoff_base, self.settings.app_backoff_max).delay(
            attempts
        )
        self._app_backoff[app] = _AppBackoff(
            _spec_key(self._desired, app), attempts, time.monotonic() + delay
        )

    def _schedule_retry(self, outcome: str) -> None:
        retry = outcome == "failed" or not self._source_ok
        if retry:
            self._failures += 1
            delay = self._pass_backoff.delay(self._failures)
            self._retry_at = time.monotonic() + delay
            self._state.next_retry_in = round(delay, 3)
        else:
            self._failures, self._retry_at = 0, None
            self._state.next_retry_in = None
        if self._app_backoff:
            soonest = min(b.until for b in self._app_backoff.values())
            if self._retry_at is None or soonest < self._retry_at:
                self._retry_at = soonest

    def _finish(self, record: PassRecord) -> None:
        self._state.revision = self._revision.sha if self._revision else None
        self._state.last_pass_at = record.started_at
        try:
            self.status.record_pass(self._state, record)
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
        with self._condition:
            self._passes += 1
            self._condition.notify_all()

    # -- watchers ---------------------------------------------------------------------------

    def _watch_git(self) -> None:
        """Trigger a pass as soon as the branch ref (or packed-refs) changes."""
        try:
            files = {str(p) for p in self.source.watched_files()}
            git_dir = Path(self.source.repo.git_dir).resolve()
        except GitberthError as exc:
            logger.warning("not watching the repository: %s", exc)
            return

        def relevant(change: watchfiles.Change, path: str) -> bool:
            return path in files

        while not self._stopping.is_set():
            try:
                for _ in watchfiles.watch(
                    git_dir,
                    watch_filter=relevant,
                    debounce=WATCH_DEBOUNCE_MS,
                    step=10,
                    stop_event=self._stopping,
                    raise_interrupt=False,
                ):
                    self.trigger("commit", read=True)
            except Exception as exc:  # noqa: BLE001 - fall back to the periodic resync
                logger.warning("git watcher failed (%s); retrying", type(exc).__name__)
                self._stopping.wait(1.0)

    def _watch_runtime(self) -> None:
        """Trigger a pass on the engine's events, and when the engine comes back."""
        self.runtime.watch(self._on_runtime_event, stop=self._stopping, backoff=self._pass_backoff)

    def _on_runtime_event(self, event: RuntimeEvent) -> None:
        """Wake a pass; meanwhile make status say what the engine says."""
        if event.marks_status:
            assert event.app is not None and event.container is not None
            self.status.mark_container(event.app, event.container, state=event.state)
        self.trigger(
            event.reason,
            read=event.reconnected,
            died=event.container_id if event.crashed else None,
        )

    def loop_state(self) -> LoopState:
        return self.status.loop()


class _PassAborted(Exception):
    """Nothing can be applied this pass (no revision yet)."""


def _has_blocked(desired: Desired) -> bool:
    return any(r.status is AppStatus.BLOCKED for r in desired.reports.values())


def _spec_key(desired: Desired, app: str) -> tuple[str, ...]:
    """What an app's backoff is tied to: its spec hashes, and its pull credentials (new ones
    replace no container, but deserve a pull at once after an unauthorized one)."""
    resolved = desired.state.apps.get(app)
    if resolved is None:
        return ()
    return tuple(
        s.spec_hash + (f"+{s.pull_credentials.fingerprint}" if s.pull_credentials else "")
        for s in resolved.services
    )


def _differs(old: AppState, new: AppState) -> bool:
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


def synced(states: Iterable[AppState]) -> bool:
    return all(s.sync is SyncState.SYNCED for s in states)
