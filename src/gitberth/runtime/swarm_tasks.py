"""One poller of Swarm's task list for every apply waiting on its tasks.

A pass that creates many services waits for each one's tasks to run. Polling per service would
cost one engine call per waiting service per tick; instead every waiter blocks on this board,
and one thread lists all tasks (one call) per tick while anybody waits, so many services can be
waited for in parallel at the cost of one. It stops polling when nobody waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from gitberth.core.errors import RuntimeUnavailableError

Tasks = list[dict[str, Any]]
TICK_SECONDS = 0.25


class TaskBoard:
    """The newest task list, grouped by service, shared by every waiting thread."""

    def __init__(self, list_tasks: Callable[[], Tasks]) -> None:
        self._list_tasks = list_tasks
        self._condition = threading.Condition()
        self._by_service: dict[str, Tasks] = {}
        self._generation = 0
        self._waiters = 0
        self._poller: threading.Thread | None = None
        self._error: Exception | None = None

    def wait(self, service_id: str, *, until: Callable[[Tasks], bool], timeout: float) -> Tasks:
        """Block until *until* holds for the service's tasks or *timeout* passes; return the
        tasks last seen. An engine that stops answering raises at once."""
        deadline = time.monotonic() + timeout
        with self._condition:
            self._waiters += 1
            if self._poller is None or not self._poller.is_alive():
                self._poller = threading.Thread(
                    target=self._poll, name="gitberth-swarm-tasks", daemon=True
                )
                self._poller.start()
            try:
                seen = -1
                while True:
                    if self._generation != seen:
                        seen = self._generation
                        if self._error is not None:
                            raise RuntimeUnavailableError(str(self._error)) from self._error
                        tasks = self._by_service.get(service_id, [])
                        if seen > 0 and until(tasks):
                            return tasks
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return self._by_service.get(service_id, [])
                    self._condition.wait(remaining)
            finally:
                self._waiters -= 1

    def _poll(self) -> None:
        while True:
            with self._condition:
                if self._waiters == 0:
                    self._poller = None
                    return
            try:
                tasks, error = self._list_tasks(), None
            except Exception as exc:  # noqa: BLE001 - handed to every waiter, which raises it
                tasks, error = [], exc
            grouped: dict[str, Tasks] = {}
            for task in tasks:
                grouped.setdefault(str(task.get("ServiceID")), []).append(task)
            with self._condition:
                self._by_service, self._error = grouped, error
                self._generation += 1
                self._condition.notify_all()
            time.sleep(TICK_SECONDS)
