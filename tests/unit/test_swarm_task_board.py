"""The Swarm runtime's shared task poller: many waiters, one task list call per tick, and it
stops polling when nobody waits."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from gitberth.core.errors import RuntimeUnavailableError
from gitberth.runtime.swarm_tasks import TaskBoard
from tests.support.waiting import wait_until


class Engine:
    """A task list that tests change between ticks, counting how often it is read."""

    def __init__(self) -> None:
        self.tasks: list[dict[str, Any]] = []
        self.calls = 0
        self.fail = False

    def list_tasks(self) -> list[dict[str, Any]]:
        self.calls += 1
        if self.fail:
            raise OSError("engine gone")
        return list(self.tasks)


def running(service: str) -> dict[str, Any]:
    return {"ServiceID": service, "Status": {"State": "running"}, "DesiredState": "running"}


def test_many_waiters_share_one_list_call_per_tick_and_each_returns_when_its_tasks_run() -> None:
    engine = Engine()
    board = TaskBoard(engine.list_tasks)
    results: dict[str, int] = {}

    def wait(service: str) -> None:
        tasks = board.wait(service, until=lambda tasks: bool(tasks), timeout=20)
        results[service] = len(tasks)

    threads = [threading.Thread(target=wait, args=(f"s{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    wait_until(lambda: engine.calls >= 2)
    engine.tasks = [running(f"s{i}") for i in range(20)]
    for thread in threads:
        thread.join(timeout=20)
    assert results == {f"s{i}": 1 for i in range(20)}
    assert engine.calls < 20 * 2, "one call per tick, not one per waiter"


def test_a_waiter_times_out_with_the_tasks_last_seen() -> None:
    engine = Engine()
    engine.tasks = [{"ServiceID": "s", "Status": {"State": "starting"}}]
    board = TaskBoard(engine.list_tasks)
    assert board.wait("s", until=lambda tasks: False, timeout=0.6) == engine.tasks


def test_an_unreachable_engine_fails_the_waiters_and_polling_stops_when_nobody_waits() -> None:
    engine = Engine()
    engine.fail = True
    board = TaskBoard(engine.list_tasks)
    with pytest.raises(RuntimeUnavailableError, match="engine gone"):
        board.wait("s", until=lambda tasks: True, timeout=5)
    wait_until(lambda: board._poller is None, timeout=5)  # the poller thread has ended
