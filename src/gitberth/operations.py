"""Wire the operator's features into a server: history, rollback, logs, notifications, status.

:func:`install` builds them over a loop and hangs every observer on the loop's (and deploys')
:class:`~gitberth.observers.PassObservers`, so ``server.py`` adds them with one call and the
features stay out of the loop's and the deployer's code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import git
from fastapi import APIRouter

from gitberth.api import routes_history, routes_logs
from gitberth.api.context import ServerContext
from gitberth.commit_status import CommitStatusReporter, CommitStatusSettings
from gitberth.container_logs import LogReader
from gitberth.core.errors import DeployError
from gitberth.history import HistoryRecorder, HistoryStore, Retention, commit_reader
from gitberth.loop import Loop
from gitberth.notify import Notifier, Target
from gitberth.rollback import Rollbacker
from gitberth.runtime.base import Runtime


@dataclass(frozen=True)
class OperationsSettings:
    """``serve`` options for these features."""

    notify: tuple[Target, ...] = ()
    commit_status: CommitStatusSettings | None = None
    retention: Retention = field(default_factory=Retention)
    max_follow_seconds: float = routes_logs.MAX_FOLLOW_SECONDS


@dataclass
class Operations:
    history: HistoryStore
    rollbacker: Rollbacker | DeployError
    logs: LogReader
    notifier: Notifier | None = None
    commit_status: CommitStatusReporter | None = None

    def stop(self) -> None:
        """Stop the delivery workers (what is still queued is not sent)."""
        if self.notifier is not None:
            self.notifier.stop()
        if self.commit_status is not None:
            self.commit_status.stop()


def install(
    context: ServerContext,
    settings: OperationsSettings,
    *,
    loop: Loop,
    runtime: Runtime,
) -> tuple[Operations, list[APIRouter]]:
    """Build the features over *loop*; return them and their routers."""
    git_dir = _git_dir(loop)
    read_commit = commit_reader(git_dir)
    history = HistoryStore(context.db, retention=settings.retention)
    loop.observers.append(HistoryRecorder(history, read_commit))
    operations_metrics = loop.metrics.operations
    notifier = None
    if settings.notify:
        notifier = Notifier(
            settings.notify,
            read_commit=read_commit,
            source=loop.source.display,
            branch=loop.settings.branch,
            metrics=operations_metrics,
        )
        loop.observers.append(notifier)
    reporter = None
    if settings.commit_status is not None:
        reporter = CommitStatusReporter(settings.commit_status, metrics=operations_metrics)
        loop.observers.append(reporter)

    def committed(sha: str) -> None:
        # Only wake the loop: it reads the new tip on its own thread. Reading the commit here
        # through the loop's Repo would share GitPython's cat-file reader across threads.
        loop.trigger(f"rollback {sha[:12]}", read=True)

    rollbacker = Rollbacker(
        repo=lambda: git.Repo(git_dir()),
        branch=loop.settings.branch,
        apps_dir=loop.settings.apps_dir,
        runtime=runtime,
        secrets=loop.secrets,
        lock=loop.lock,
        remote=loop.source.remote,
        on_committed=committed,
        known_specs=loop.known_specs,
        publish=loop.settings.publish,
    )
    operations = Operations(
        history=history,
        rollbacker=rollbacker,
        logs=runtime.logs,
        notifier=notifier,
        commit_status=reporter,
    )
    routers = [
        routes_history.router(
            history=history,
            status=loop.status,
            rollbacker=rollbacker,
            metrics=operations_metrics,
        ),
        routes_logs.router(
            logs=operations.logs,
            status=loop.status,
            metrics=operations_metrics,
            max_follow_seconds=settings.max_follow_seconds,
        ),
    ]
    return operations, routers


def _git_dir(loop: Loop) -> Callable[[], str]:
    """Where the repository's objects are (the local repo, or the state-dir mirror), asked
    lazily through the calling thread's own Repo, so a bad --repo fails where serve checks it."""
    return lambda: str(loop.source.repos.read(lambda repo: repo.git_dir))
