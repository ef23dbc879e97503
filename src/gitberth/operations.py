"""Wire the operator's features into a server: history, rollback, logs, notifications, status.

:func:`install` builds them over every source's loop and hangs every observer on each loop's
(and deploys') :class:`~gitberth.observers.PassObservers`, so ``server.py`` adds them with one
call and the features stay out of the loop's and the deployer's code. History entries name the
source that applied them; a rollback commits to the source that declares the app.
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
from gitberth.history import HistoryRecorder, HistoryStore, Retention, commit_reader
from gitberth.loop import Loop
from gitberth.notify import Notifier, Target
from gitberth.rollback import Rollbacker
from gitberth.source_set import RollbackRouter, SourceLogs, SourceSet


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
    rollbacker: RollbackRouter
    logs: LogReader
    notifiers: list[Notifier] = field(default_factory=list)
    """One per source (each names its repository and branch)."""
    commit_status: CommitStatusReporter | None = None

    def stop(self) -> None:
        """Stop the delivery workers (what is still queued is not sent)."""
        for notifier in self.notifiers:
            notifier.stop()
        if self.commit_status is not None:
            self.commit_status.stop()


def install(
    context: ServerContext,
    settings: OperationsSettings,
    *,
    sources: SourceSet,
) -> tuple[Operations, list[APIRouter]]:
    """Build the features over every source's loop; return them and their routers."""
    history = HistoryStore(context.db, retention=settings.retention)
    operations_metrics = sources.metrics.operations
    notifiers: list[Notifier] = []
    reporter = None
    if settings.commit_status is not None:
        reporter = CommitStatusReporter(settings.commit_status, metrics=operations_metrics)
    for source in sources:
        loop = source.loop
        git_dir = _git_dir(loop)
        read_commit = commit_reader(git_dir)
        loop.observers.append(HistoryRecorder(history, read_commit, source=source.name))
        if settings.notify:
            notifier = Notifier(
                settings.notify,
                read_commit=read_commit,
                source=loop.source.display,
                branch=loop.settings.branch,
                metrics=operations_metrics,
            )
            loop.observers.append(notifier)
            notifiers.append(notifier)
        if reporter is not None:
            loop.observers.append(reporter)
        source.rollbacker = _rollbacker(source.loop, git_dir=git_dir)
    rollbacks = RollbackRouter(sources, history_source=lambda app: _last_source(history, app))
    operations = Operations(
        history=history,
        rollbacker=rollbacks,
        logs=SourceLogs(sources),
        notifiers=notifiers,
        commit_status=reporter,
    )
    routers = [
        routes_history.router(
            history=history,
            status=sources,
            rollbacker=rollbacks,
            metrics=operations_metrics,
        ),
        routes_logs.router(
            logs=operations.logs,
            status=sources,
            metrics=operations_metrics,
            max_follow_seconds=settings.max_follow_seconds,
        ),
    ]
    return operations, routers


def _rollbacker(loop: Loop, *, git_dir: Callable[[], str]) -> Rollbacker:
    def committed(sha: str) -> None:
        # Only wake the loop: it reads the new tip on its own thread. Reading the commit here
        # through the loop's Repo would share GitPython's cat-file reader across threads.
        loop.trigger(f"rollback {sha[:12]}", read=True)

    return Rollbacker(
        repo=lambda: git.Repo(git_dir()),
        branch=loop.settings.branch,
        apps_dir=loop.settings.apps_dir,
        runtime=loop.runtime,
        secrets=loop.secrets,
        lock=loop.lock,
        remote=loop.source.remote,
        on_committed=committed,
        known_specs=loop.known_specs,
        publish=loop.settings.publish,
    )


def _last_source(history: HistoryStore, app: str) -> str | None:
    """The source that last applied *app* (for a rollback of an app removed from Git)."""
    last = history.last(app)
    return last.source if last is not None and last.source else None


def _git_dir(loop: Loop) -> Callable[[], str]:
    """Where the repository's objects are (the local repo, or the state-dir mirror), asked
    lazily through the calling thread's own Repo, so a bad --repo fails where serve checks it."""
    return lambda: str(loop.source.repos.read(lambda repo: repo.git_dir))
