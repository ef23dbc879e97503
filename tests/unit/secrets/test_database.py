"""The group commit's handle: a thread and a coroutine wait on the same queued write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitberth.database import Database, GroupedWrite, open_database
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


def record_batches(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the committer commits from now on."""
    sizes: list[int] = []
    commit_batch = db._commit_batch

    def recording(batch: list[GroupedWrite[object]]) -> None:
        sizes.append(len(batch))
        commit_batch(batch)

    monkeypatch.setattr(db, "_commit_batch", recording)
    return sizes


def test_coroutines_ready_together_share_one_commit(
    table: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests read in one pass of the loop run one after the other until each queues its
    write; the committer must not commit the first alone (one fsync each) while the others
    are still being prepared on the loop (the blocking sleep stands for that work)."""
    table.grouped(insert(0))  # the committer thread is running and idle
    sizes = record_batches(table, monkeypatch)

    async def write(value: int, *, preparing: float) -> int:
        time.sleep(preparing)
        return await table.grouped_async(insert(value))

    async def together() -> list[int]:
        return await asyncio.gather(*(write(value, preparing=0.2) for value in (1, 2, 3)))

    assert asyncio.run(together()) == [1, 2, 3]
    assert sizes == [3]


def test_a_lone_coroutine_write_is_committed_without_waiting_for_more(
    table: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = record_batches(table, monkeypatch)

    async def one_by_one() -> list[int]:
        return [await table.grouped_async(insert(value)) for value in (1, 2)]

    assert asyncio.run(one_by_one()) == [1, 2]
    assert sizes == [1, 1]


def test_a_batch_wakes_each_event_loop_once(table: Database) -> None:
    """One wake-up of the loop for all its writes of a batch, not one per write."""
    table.grouped(insert(0))  # the committer thread is running and idle
    wakes: list[object] = []

    async def together() -> list[int]:
        loop = asyncio.get_running_loop()
        call_soon_threadsafe = loop.call_soon_threadsafe

        def counting(callback: Callable[..., object], *args: object) -> asyncio.Handle:
            wakes.append(callback)
            return call_soon_threadsafe(callback, *args)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        return await asyncio.gather(*(table.grouped_async(insert(value)) for value in (1, 2, 3)))

    assert asyncio.run(together()) == [1, 2, 3]
    assert len(wakes) == 1


def test_a_write_from_a_thread_still_wakes_the_committer_at_once(table: Database) -> None:
    """Only coroutines defer the wake-up (to the loop's next pass); a thread has no loop."""
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (table.grouped(insert(4)), done.set()))
    waiter.start()
    assert done.wait(timeout=30)
    waiter.join()
