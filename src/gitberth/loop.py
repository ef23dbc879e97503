"""The continuous reconcile loop behind ``gitberth serve``: triggers in, one pass at a time.

Anything that may mean "the world differs from Git" is a *trigger*: a new commit on a watched
local branch, a periodic fetch of a remote, a webhook, a managed container dying or vanishing
(the runtime's events), a secret change, a retry. Triggers only wake the loop; they carry no
instructions, because every pass is level-based: it compares the whole desired state with the
whole observed state, so a crash anywhere is repaired by the next pass and it does not matter
which trigger woke it.

This module only wires the parts together, each with one job: the trigger queue
(:mod:`gitberth.triggers`, coalescing), the pass runner (:mod:`gitberth.pass_runner`: source,
lock, reconcile, backoffs), the pass recorder (:mod:`gitberth.pass_recorder`: status, metrics,
logs) and the watchers (:mod:`gitberth.watchers`: Git and the runtime's events).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from gitberth.git_source import GitSource, credentials_loader
from gitberth.loop_settings import LoopSettings
from gitberth.metrics import LoopMetrics
from gitberth.observers import PassObservers
from gitberth.pass_recorder import PassRecorder
from gitberth.pass_runner import PassRunner
from gitberth.reconciler import NoSecretStore, SecretSource
from gitberth.runtime.base import Runtime
from gitberth.status import PassRecord, StatusStore
from gitberth.triggers import PassRequest, TriggerQueue, full_pass
from gitberth.watchers import watch_git, watch_runtime

__all__ = ["Loop", "LoopSettings"]

logger = logging.getLogger("gitberth.loop")


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
        """*lock* is held while a pass reads the branch and changes the engine; share it with
        anything else that applies (``POST /deploy``) so two reconcilers never race for one
        container name. *known_specs* (e.g. a persistent ledger) explains replacements after a
        restart."""
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
            credentials=credentials_loader(
                settings.repo, secret=settings.credentials_secret, secrets=self.secrets
            ),
            secrets_dir=settings.secrets_dir,
        )
        self.known_specs: MutableMapping[str, Mapping[str, Any]] = (
            known_specs if known_specs is not None else {}
        )
        self.lock = lock or threading.Lock()
        self.observers = PassObservers()
        """Told of every pass (deploy history, notifications, commit status)."""
        state = status.loop()
        state.source, state.branch = self.source.display, settings.branch
        state.source_id = runtime.source
        self.metrics.docker_up.set(1)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._triggers = TriggerQueue(full_pass("start"))
        self._runner = PassRunner(
            settings=settings,
            source=self.source,
            runtime=runtime,
            secrets=self.secrets,
            recorder=PassRecorder(status=status, metrics=self.metrics, state=state),
            observers=self.observers,
            lock=self.lock,
            known_specs=self.known_specs,
            stop=self._stopping,
        )

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
        container that crashed. Coalesces with any pass already asked for."""
        self._triggers.put(reason, fetch=fetch, read=read, rebuild=rebuild, died=died)

    def secrets_changed(self, name: str, app_id: str | None) -> None:
        """A ``ServerContext.on_secrets_changed`` subscriber: rebuild and reconcile (and fetch
        at once when it is the source's credentials secret, e.g. a rotated token)."""
        if app_id is None and name == self.settings.credentials_secret:
            self.trigger("credentials secret changed", fetch=True, read=True, rebuild=True)
            return
        self.trigger("secret changed", rebuild=True)

    @property
    def pending(self) -> PassRequest | None:
        """The pass asked for and not begun yet, if any."""
        return self._triggers.pending

    @property
    def passes(self) -> int:
        """How many passes have finished (tests wait on it)."""
        return self._triggers.passes

    def wait_for_passes(self, count: int, *, timeout: float) -> bool:
        """Block until at least *count* passes have finished; False on timeout."""
        return self._triggers.wait_for_passes(count, timeout=timeout)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the pass worker, the Git watcher (local repo) and the runtime's event stream."""
        self._spawn("gitberth-loop", self._work)
        if self.settings.watch and self.source.remote is None:
            self._spawn(
                "gitberth-git-watch",
                lambda: watch_git(self.source, trigger=self.trigger, stop=self._stopping),
            )
        if self.settings.docker_events:
            self._spawn(
                "gitberth-runtime-events",
                lambda: watch_runtime(
                    self.runtime,
                    status=self.status,
                    trigger=self.trigger,
                    stop=self._stopping,
                    backoff=self.settings.pass_backoff,
                ),
            )

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, *, timeout: float = 60.0) -> None:
        """Finish the action in flight, start no other, and stop every thread."""
        self._stopping.set()
        self._triggers.close()
        for thread in self._threads:
            thread.join(timeout)
        if self._threads:
            logger.info("reconcile loop stopped")
        self._threads.clear()

    def _work(self) -> None:
        while (request := self._next_work()) is not None:
            self.run_pass(request)

    def _next_work(self) -> PassRequest | None:
        """Block until a pass is due; None when stopping."""
        return self._triggers.take(
            resync_at=self._runner.next_resync, retry_at=self._runner.retry_at
        )

    # -- passes -----------------------------------------------------------------------------

    def run_pass(self, request: PassRequest | None = None) -> PassRecord:
        """One pass now, on the calling thread; never raises (failures are recorded)."""
        record = self._runner.run(request or full_pass("manual"))
        self._triggers.pass_done()
        return record

    def adopt_revision(self, sha: str) -> None:
        """Make *sha* (just committed by a deploy, which holds :attr:`lock`) the revision the
        next pass applies, so a pass woken meanwhile never applies the older one."""
        self._runner.adopt(sha)
