"""What wakes the loop by itself: a new commit on a local branch, and the engine's events.

Each watcher is a function that blocks until *stop* is set and calls a :class:`Trigger` (the
loop's :meth:`~gitberth.loop.Loop.trigger`); a new trigger source (a message queue, say) is one
more function here.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol

import watchfiles

from gitberth.core.backoff import Backoff
from gitberth.core.errors import GitberthError
from gitberth.git_source import GitSource
from gitberth.runtime.base import Runtime, RuntimeEvent

logger = logging.getLogger("gitberth.loop")

WATCH_DEBOUNCE_MS = 30


class Trigger(Protocol):
    def __call__(
        self,
        reason: str,
        *,
        fetch: bool = False,
        read: bool = False,
        rebuild: bool = False,
        died: str | None = None,
    ) -> None: ...


class ContainerMarks(Protocol):
    """Where a watcher shows at once what the engine said (the loop's status store)."""

    def mark_container(self, app: str, container: str, *, state: str | None) -> None: ...


def watch_git(source: GitSource, *, trigger: Trigger, stop: threading.Event) -> None:
    """Trigger a pass that reads the branch as soon as its ref (or packed-refs) changes."""
    try:
        files = {str(p) for p in source.watched_files()}
        git_dir = Path(source.repo.git_dir).resolve()
    except GitberthError as exc:
        logger.warning("not watching the repository: %s", exc)
        return

    def relevant(change: watchfiles.Change, path: str) -> bool:
        return path in files

    while not stop.is_set():
        try:
            for _ in watchfiles.watch(
                git_dir,
                watch_filter=relevant,
                debounce=WATCH_DEBOUNCE_MS,
                step=10,
                stop_event=stop,
                raise_interrupt=False,
            ):
                trigger("commit", read=True)
        except Exception as exc:  # noqa: BLE001 - fall back to the periodic resync
            logger.warning("git watcher failed (%s); retrying", type(exc).__name__)
            stop.wait(1.0)


def watch_runtime(
    runtime: Runtime,
    *,
    status: ContainerMarks,
    trigger: Trigger,
    stop: threading.Event,
    backoff: Backoff,
) -> None:
    """Trigger a pass on each engine event, and one that re-reads the branch when the engine
    comes back; meanwhile make status say what the engine says about a container."""

    def on_event(event: RuntimeEvent) -> None:
        if event.marks_status:
            assert event.app is not None and event.container is not None
            status.mark_container(event.app, event.container, state=event.state)
        trigger(
            event.reason,
            read=event.reconnected,
            died=event.container_id if event.crashed else None,
        )

    runtime.watch(on_event, stop=stop, backoff=backoff)
