"""gitberth's SQLite database: one writer, one reader, and a group commit for concurrent writes.

The file lives in the state directory (:mod:`gitberth.state`). It runs in WAL mode with
``synchronous=FULL`` so an acknowledged write survives a power cut, and with ``secure_delete``
so replaced ciphertext does not linger in free pages.

A write is acknowledged only after its fsync; concurrent writers share one (a group commit):
each caller queues its work and waits, a committer thread runs everything queued meanwhile in
one transaction, each piece in its own savepoint, and wakes every caller. A thread waits with
:meth:`GroupedWrite.wait`, a coroutine with :meth:`GroupedWrite.wait_async`; both wait on the
same queued write, so the sync and async paths share one implementation. A coroutine's write
wakes the committer only after the requests the loop has ready have queued theirs too, so
requests that arrive together share a commit (:meth:`Database.submit_from_loop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

from gitberth.core.errors import ConfigError, StorageFullError
from gitberth.state import PRIVATE_FILE_MODE, StateDir

T = TypeVar("T")


class Database:
    """SQLite for the server's threads: one writer connection, one reader connection.

    SQLite serialises writers anyway; one write connection behind a re-entrant lock makes that
    explicit and lets callers nest :meth:`transaction` (a secret write and its audit record
    commit together, with one fsync). Reads outside a transaction go to a second connection,
    so a token check never waits behind a write's fsync (WAL lets readers run beside a writer).
    :meth:`grouped` (and :meth:`grouped_async` for the event loop) hand work to a committer
    thread that commits everything queued meanwhile at once, so one fsync acknowledges many
    concurrent writes (see the module docstring).
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        state: StateDir,
        reader: sqlite3.Connection | None = None,
    ) -> None:
        self._connection = connection
        self._reader = reader
        self._lock = threading.RLock()
        self._reader_lock = threading.Lock()
        self._local = threading.local()
        self._queue_ready = threading.Condition()
        self._queue: list[GroupedWrite[Any]] = []
        self._committer: threading.Thread | None = None
        self._wake_scheduled: set[asyncio.AbstractEventLoop] = set()
        self._closed = False
        self.state = state

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); nested calls join the outer one."""
        with self._lock:
            depth = getattr(self._local, "depth", 0)
            if depth == 0:
                self._connection.execute("BEGIN IMMEDIATE")
            self._local.depth = depth + 1
            try:
                yield self._connection
            except BaseException as exc:
                self._local.depth = depth
                if depth == 0:
                    with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back
                        self._connection.execute("ROLLBACK")
                full = storage_full(exc, self.state.path)
                if full is not None:
                    raise full from exc
                raise
            self._local.depth = depth
            if depth == 0:
                try:
                    self._connection.execute("COMMIT")
                except sqlite3.Error as exc:
                    with contextlib.suppress(sqlite3.Error):
                        self._connection.execute("ROLLBACK")
                    full = storage_full(exc, self.state.path)
                    if full is not None:
                        raise full from exc
                    raise

    def grouped(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run *work* in a write transaction shared with concurrent callers (group commit).

        Returns only after the work is durable, or raises its own error (or the commit's).
        Inside a transaction on this thread it simply joins that transaction.
        """
        if getattr(self._local, "depth", 0) > 0:
            with self.transaction() as connection:
                return work(connection)
        return self.submit(work).wait()

    async def grouped_async(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """:meth:`grouped` for the event loop: it waits without a thread of its own.

        *work* still runs on the committer thread, so it must not touch the event loop.
        """
        return await self.submit_from_loop(work).wait_async()

    def enqueue(self, work: Callable[[sqlite3.Connection], object]) -> None:
        """Queue *work* for the next group commit without waiting for it (best effort: a
        failure is dropped). For bookkeeping such as a token's last use."""
        with contextlib.suppress(ConfigError):
            self.submit(work)

    def submit(self, work: Callable[[sqlite3.Connection], T]) -> GroupedWrite[T]:
        """Queue *work* for the next group commit; the handle says when it is durable."""
        return self._enqueue(work, wake=True)

    def submit_from_loop(self, work: Callable[[sqlite3.Connection], T]) -> GroupedWrite[T]:
        """:meth:`submit` from a coroutine: the committer is woken only once the event loop
        has run the callbacks that were ready with this one.

        Requests that arrive together (the loop read them in one pass) are handled one after
        the other without yielding until each queues its write. Woken at the first, the
        committer would commit it alone and the others in a second commit: two fsyncs where
        one does, and the others wait for both. Waking it from a callback queued behind them
        lets them all join one commit; when nothing else is ready, that callback runs on the
        loop's next pass, at once. (Should the loop stop before it runs, the write is committed
        with the next one, or when the database closes.)
        """
        loop = asyncio.get_running_loop()
        pending = self._enqueue(work, wake=False)
        if loop not in self._wake_scheduled:
            self._wake_scheduled.add(loop)
            loop.call_soon(self._wake_committer, loop)
        return pending

    def _wake_committer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._wake_scheduled.discard(loop)
        with self._queue_ready:
            self._queue_ready.notify()

    def _enqueue(self, work: Callable[[sqlite3.Connection], T], *, wake: bool) -> GroupedWrite[T]:
        pending = GroupedWrite(work)
        with self._queue_ready:
            if self._closed:
                raise ConfigError("the database is closed")
            if self._committer is None or not self._committer.is_alive():
                self._committer = threading.Thread(
                    target=self._commit_forever, name="gitberth-group-commit", daemon=True
                )
                self._committer.start()
            self._queue.append(pending)
            if wake:
                self._queue_ready.notify()
        return pending

    def _commit_forever(self) -> None:
        """The committer thread: one transaction and one fsync for everything queued meanwhile.

        Each caller's work runs in its own savepoint, so one failure undoes only its own work.
        """
        while True:
            with self._queue_ready:
                while not self._queue and not self._closed:
                    self._queue_ready.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            try:
                self._commit_batch(batch)
            finally:
                _wake(batch)

    def _commit_batch(self, batch: list[GroupedWrite[Any]]) -> None:
        committed = False
        try:
            with self.transaction() as connection:
                for pending in batch:
                    connection.execute("SAVEPOINT grouped_write")
                    try:
                        pending.result = pending.work(connection)
                    except Exception as exc:
                        connection.execute("ROLLBACK TO grouped_write")
                        pending.error = storage_full(exc, self.state.path) or exc
                    connection.execute("RELEASE grouped_write")
            committed = True
        except Exception as exc:
            for pending in batch:
                if pending.error is None:
                    pending.error, pending.result = exc, None
        finally:
            for pending in batch:
                if not committed and pending.error is None:
                    pending.error = RuntimeError("the group commit was interrupted")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads of committed data (the open transaction's, inside one)."""
        if self._reader is None or getattr(self._local, "depth", 0) > 0:
            with self._lock:
                yield self._connection
        else:
            with self._reader_lock:
                yield self._reader

    def close(self) -> None:
        """Finish queued group commits, then close both connections."""
        with self._queue_ready:
            self._closed = True
            self._queue_ready.notify_all()
            committer = self._committer
        if committer is not None and committer is not threading.current_thread():
            committer.join(timeout=30)
        with self._lock, self._reader_lock:
            if self._reader is not None:
                self._reader.close()
            self._connection.close()


class GroupedWrite(Generic[T]):
    """One caller's work queued for a group commit: its outcome once committed, and the wait
    for it, from a thread (:meth:`wait`) or from the event loop (:meth:`wait_async`).

    *on_done* callbacks run on the committer thread as soon as the commit ends, whether or
    not anyone still waits (a cancelled request's write is still accounted for).
    """

    __slots__ = ("_callbacks", "_done", "_lock", "_waiters", "error", "result", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], T]) -> None:
        self.work = work
        self.result: Any = None
        self.error: BaseException | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._callbacks: list[Callable[[], None]] = []

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call *callback* once the commit has ended (at once if it already has)."""
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def wait(self) -> T:
        """Block this thread until the write is durable; its result, or its error raised."""
        self._done.wait()
        return self._outcome()

    async def wait_async(self) -> T:
        """:meth:`wait` for a coroutine: the event loop is woken, no thread is held."""
        future: asyncio.Future[None] | None = None
        with self._lock:
            if not self._done.is_set():
                loop = asyncio.get_running_loop()
                future = loop.create_future()
                self._waiters.append((loop, future))
        if future is not None:
            await future
        return self._outcome()

    def _end(self) -> list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]:
        """Mark the write done, run its callbacks; the coroutines waiting for it, to wake."""
        with self._lock:
            self._done.set()
            waiters, self._waiters = self._waiters, []
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()
        return waiters

    def _outcome(self) -> T:
        if self.error is not None:
            raise self.error
        result: T = self.result
        return result


def _wake(batch: list[GroupedWrite[Any]]) -> None:
    """End every write of a committed batch, then wake each event loop once for all its waiters.

    One wake-up per loop, not per write: each ``call_soon_threadsafe`` is a write to the loop's
    self-pipe and a pass of the loop, and the committer needs the GIL for each, while the loop
    holds it to parse the next requests (the per-write hop was a visible share of a write).
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for pending in batch:
        for loop, future in pending._end():
            by_loop.setdefault(loop, []).append(future)
    for loop, futures in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, futures)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more


def _resolve(futures: list[asyncio.Future[None]]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


def storage_full(exc: BaseException, path: Path) -> StorageFullError | None:
    """SQLite's "database or disk is full", as gitberth's own error (None for anything else)."""
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_FULL and "is full" not in str(exc):
        return None
    return StorageFullError(
        f"the disk holding the state dir {path} is full: nothing was written, nothing stored "
        "is lost; free some space and try again"
    )


def open_database(state: StateDir) -> Database:
    """Open (creating if needed) ``gitberth.db`` in WAL mode, synchronous FULL, files 0600."""
    state.ensure()
    try:
        fd = os.open(state.db_path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    except OSError as exc:
        raise ConfigError(f"cannot open {state.db_path}: {exc.strerror}") from exc
    os.close(fd)
    os.chmod(state.db_path, PRIVATE_FILE_MODE)
    try:
        connection = sqlite3.connect(
            state.db_path, check_same_thread=False, isolation_level=None, timeout=10.0
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA secure_delete=ON")
        connection.execute("PRAGMA foreign_keys=ON")
        reader = sqlite3.connect(
            state.db_path, check_same_thread=False, isolation_level=None, timeout=10.0
        )
        reader.execute("PRAGMA query_only=ON")
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot use database {state.db_path}: {exc}") from exc
    state.tighten_permissions()
    return Database(connection, state=state, reader=reader)
