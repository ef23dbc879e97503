"""The state dir: private files, WAL with synchronous FULL, and the default location."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gitberth import state as state_module
from gitberth.core.errors import ConfigError
from gitberth.database import open_database
from gitberth.state import StateDir, default_state_dir, write_private_file


def test_database_is_wal_synchronous_full_and_private(tmp_path: Path) -> None:
    state = StateDir(tmp_path / "new" / "state")
    db = open_database(state)
    with db.transaction() as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    with db.reading() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert state.path.stat().st_mode & 0o777 == 0o700
    files = list(state.path.iterdir())
    assert {p.name for p in files} >= {"gitberth.db", "gitberth.db-wal"}
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path
    db.close()


def test_nested_transactions_commit_once_and_roll_back_together(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path))
    with db.transaction() as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(RuntimeError), db.transaction() as outer:
        outer.execute("INSERT INTO t VALUES (1)")
        with db.transaction() as inner:
            inner.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError
    with db.reading() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    db.close()


def test_private_file_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    write_private_file(path, b"one")
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError):
        write_private_file(path, b"two")
    assert path.read_bytes() == b"one"


def test_state_dir_must_be_a_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError):
        StateDir(tmp_path / "file").ensure()


def test_default_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GITBERTH_STATE_DIR", str(tmp_path / "env"))
    assert default_state_dir() == tmp_path / "env"
    monkeypatch.delenv("GITBERTH_STATE_DIR")
    monkeypatch.setattr(state_module.os, "geteuid", lambda: 0)
    assert default_state_dir() == Path("/var/lib/gitberth")
    monkeypatch.setattr(state_module.os, "geteuid", lambda: 1000)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home" / ".local" / "state" / "gitberth"


def test_group_commit_isolates_failures_and_keeps_every_success(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path))
    with db.transaction() as conn:
        conn.execute("CREATE TABLE t (x INTEGER UNIQUE)")

    def insert(value: int) -> int:
        def work(conn: sqlite3.Connection) -> int:
            conn.execute("INSERT INTO t VALUES (?)", (value % 50,))
            return value

        return db.grouped(work)

    outcomes: list[object] = []

    def attempt(value: int) -> None:
        try:
            outcomes.append(insert(value))
        except sqlite3.IntegrityError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt, args=(value,)) for value in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    successes = [o for o in outcomes if isinstance(o, int)]
    assert len(successes) == 50 and len(outcomes) == 100
    with db.reading() as conn:
        stored = sorted(row[0] for row in conn.execute("SELECT x FROM t"))
    assert stored == sorted(value % 50 for value in successes)
    db.close()


def test_grouped_inside_a_transaction_joins_it(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path))
    with db.transaction() as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(RuntimeError), db.transaction():
        db.grouped(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
        raise RuntimeError
    with db.reading() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    db.close()
