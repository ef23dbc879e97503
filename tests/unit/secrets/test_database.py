"""The group commit's handle: a thread and a coroutine wait on the same queued write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitberth.database import Database, open_database
from gitberth.secrets.store import SecretStore
from gitberth.state import StateDir
from tests.support.waiting import wait_until


@pytest.fixture
def table(tmp_path: Path) -> Iterator[Database]:
    db = open_database(StateDir(tmp_path / "state"))
    with db.transaction() as conn:
        conn.execute("CREATE TABLE t (x INTEGER UNIQUE)")
    yield db
    db.close()


def insert(value: int) -> Callable[[sqlite3.Connection], int]:
    def work(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t VALUES (?)", (value,))
        return value

    return work


def test_a_thread_and_a_coroutine_get_the_same_outcome_of_one_write(table: Database) -> None:
    write = table.submit(insert(7))
    from_thread: list[int] = []
    waiter = threading.Thread(target=lambda: from_thread.append(write.wait()))
    waiter.start()
    assert asyncio.run(write.wait_async()) == 7
    waiter.join(timeout=10)
    assert from_thread == [7]
    with table.reading() as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(7,)]


def test_waiting_after_the_commit_ended_answers_at_once(table: Database) -> None:
    write = table.submit(insert(1))
    assert write.wait() == 1
    assert asyncio.run(asyncio.wait_for(write.wait_async(), timeout=5)) == 1


def test_a_failed_write_raises_its_own_error_to_every_waiter(table: Database) -> None:
    table.grouped(insert(3))
    write = table.submit(insert(3))
    with pytest.raises(sqlite3.IntegrityError):
        write.wait()
    with pytest.raises(sqlite3.IntegrityError):
        asyncio.run(write.wait_async())


def test_done_callbacks_run_when_the_commit_ends_though_nobody_waits(table: Database) -> None:
    ended = threading.Event()
    table.submit(insert(5)).on_done(ended.set)
    assert ended.wait(timeout=10)
    late: list[str] = []
    write = table.submit(insert(6))
    write.wait()
    write.on_done(lambda: late.append("ran"))  # after the end: runs at once
    assert late == ["ran"]


def test_a_cancelled_async_secret_write_still_commits_and_leaves_no_write_in_flight(
    store: SecretStore,
) -> None:
    """The route's caller may go away; its write is still accounted for, so rotation can
    drop the old term key afterwards."""

    async def cancel_one() -> None:
        task = asyncio.ensure_future(store.put_async(name="gone", app_id=None, data={"K": "v"}))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_one())
    wait_until(lambda: store.exists(name="gone", app_id=None))
    wait_until(lambda: not any(store._in_flight.values()))
    store.rotate()
    assert list(store.encryption_counts()) == [2]
