"""The state directory: gitberth's only place on disk, kept private to the server's user.

It holds the SQLite database ``gitberth.db`` (secrets as ciphertext, hashed tokens, audit, and
later status and events) and, in the default auto-unseal setup, the base64 master key in
``master.key``. Every file is created mode 0600 in a 0700 directory, because the master key file
and the database together are everything an attacker would need.

Where it is, first match wins:

1. ``--state-dir`` on the command line;
2. ``$GITBERTH_STATE_DIR``;
3. ``/var/lib/gitberth`` when running as root;
4. ``~/.local/state/gitberth`` otherwise.

The database runs in WAL mode with ``synchronous=FULL`` so an acknowledged write survives a
power cut, and with ``secure_delete`` so replaced ciphertext does not linger in free pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gitberth.core.errors import ConfigError, StorageFullError

DB_NAME = "gitberth.db"
MASTER_KEY_NAME = "master.key"
STATE_DIR_ENV = "GITBERTH_STATE_DIR"
ROOT_STATE_DIR = Path("/var/lib/gitberth")
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
T = TypeVar("T")
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def default_state_dir() -> Path:
    """The state dir to use when ``--state-dir`` is not given (see the module docstring)."""
    configured = os.environ.get(STATE_DIR_ENV)
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return ROOT_STATE_DIR
    return Path.home() / ".local" / "state" / "gitberth"


@dataclass(frozen=True)
class StateDir:
    """Paths inside one state directory."""

    path: Path

    @classmethod
    def resolve(cls, path: Path | None) -> StateDir:
        return cls((path or default_state_dir()).expanduser())

    @property
    def db_path(self) -> Path:
        return self.path / DB_NAME

    @property
    def master_key_path(self) -> Path:
        return self.path / MASTER_KEY_NAME

    def ensure(self) -> None:
        """Create the directory (0700) if it is missing; refuse a path that is not a directory."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"state dir {self.path} exists and is not a directory")
        if not self.path.exists():
            try:
                self.path.mkdir(parents=True, mode=PRIVATE_DIR_MODE)
            except OSError as exc:
                raise ConfigError(f"cannot create state dir {self.path}: {exc.strerror}") from exc
            os.chmod(self.path, PRIVATE_DIR_MODE)

    def tighten_permissions(self) -> None:
        """Make the database and its side files 0600, whoever created them and with what umask."""
        for suffix in ("", *_SQLITE_SIDE_FILES):
            candidate = Path(f"{self.db_path}{suffix}")
            if candidate.exists():
                os.chmod(candidate, PRIVATE_FILE_MODE)
        if self.master_key_path.exists():
            os.chmod(self.master_key_path, PRIVATE_FILE_MODE)


def write_private_file(path: Path, data: bytes) -> None:
    """Create *path* (mode 0600, never overwriting) with *data*, durably.

    ``O_EXCL`` makes a second server racing to create the master key fail instead of replacing
    the key the first one already used; the fsyncs make the key survive a crash together with
    the keyring that depends on it.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError as exc:
        raise ConfigError(f"{path} already exists; refusing to overwrite it") from exc
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Database:
    """SQLite for the server's threads: one writer connection, one reader connection.

    SQLite serialises writers anyway; one write connection behind a re-entrant lock makes that
    explicit and lets callers nest :meth:`transaction` (a secret write and its audit record
    commit together, with one fsync). Reads outside a transaction go to a second connection,
    so a token check never waits behind a write's fsync (WAL lets readers run beside a writer).
    :meth:`grouped` (and :meth:`grouped_async` for the event loop) hand work to a committer
    thread that commits everything queued meanwhile at once, so one fsync acknowledges many
    concurrent writes.
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
        self._queue: list[_Pending] = []
        self._committer: threading.Thread | None = None
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
        pending = _Pending(work, done=threading.Event())
        self._submit(pending)
        assert pending.done is not None
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        result: T = pending.result
        return result

    def enqueue(self, work: Callable[[sqlite3.Connection], object]) -> None:
        """Queue *work* for the next group commit without waiting for it (best effort: a
        failure is dropped). For bookkeeping such as a token's last use."""
        with contextlib.suppress(ConfigError):
            self._submit(_Pending(work))

    async def grouped_async(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """:meth:`grouped` for the event loop: it waits without a thread of its own.

        *work* still runs on the committer thread, so it must not touch the event loop.
        """
        loop = asyncio.get_running_loop()
        pending = _Pending(work, loop=loop, future=loop.create_future())
        self._submit(pending)
        assert pending.future is not None
        await pending.future
        if pending.error is not None:
            raise pending.error
        result: T = pending.result
        return result

    def _submit(self, pending: _Pending) -> None:
        with self._queue_ready:
            if self._closed:
                raise ConfigError("the database is closed")
            if self._committer is None or not self._committer.is_alive():
                self._committer = threading.Thread(
                    target=self._commit_forever, name="gitberth-group-commit", daemon=True
                )
                self._committer.start()
            self._queue.append(pending)
            self._queue_ready.notify()

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
                for pending in batch:
                    pending.finish()

    def _commit_batch(self, batch: list[_Pending]) -> None:
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


class _Pending:
    """One caller's work waiting for a group commit, and how to wake that caller."""

    __slots__ = ("done", "error", "future", "loop", "result", "work")

    def __init__(
        self,
        work: Callable[[sqlite3.Connection], Any],
        *,
        done: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.work = work
        self.done = done
        self.loop = loop
        self.future = future
        self.result: Any = None
        self.error: BaseException | None = None

    def finish(self) -> None:
        if self.done is not None:
            self.done.set()
        if self.loop is not None and self.future is not None:
            try:
                self.loop.call_soon_threadsafe(_resolve, self.future)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more


def _resolve(future: asyncio.Future[None]) -> None:
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
