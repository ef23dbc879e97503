"""Copy a state dir out while a server writes to it, and lay a copy down in an empty dir.

The copy uses SQLite's online backup API in one step (``pages=-1``): it runs inside a single
read transaction, so it sees exactly the commits that finished before it started and none
after, whatever ``serve`` is doing. In WAL mode readers never block the writer, so taking a
backup costs the server no downtime, only a brief read. The copy goes into an in-memory
database and is serialised from there: no unencrypted copy is written to disk, not even
briefly in a temp dir.

Restoring checks the database (``PRAGMA integrity_check`` and the store's tables) in memory
first, writes everything into a private staging directory next to the target, and only then
moves it into place, so a failed restore leaves the target exactly as it was (absent or empty).
"""

from __future__ import annotations

import contextlib
import os
import secrets as random
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gitberth import __version__
from gitberth.backup.archive import BackupContents, BackupSummary
from gitberth.core.errors import BackupError
from gitberth.core.timestamps import utc_text
from gitberth.state import (
    DB_NAME,
    MASTER_KEY_NAME,
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    StateDir,
    write_private_file,
)

_REQUIRED_TABLES = ("secret_meta", "key_terms", "secrets")
_SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass(frozen=True)
class RestoredState:
    """Where a backup was restored and what it held."""

    path: Path
    summary: BackupSummary


def take(state: StateDir, *, with_key: bool) -> BackupContents:
    """A consistent copy of *state*'s database, plus its master key file when *with_key*."""
    if not state.db_path.is_file():
        raise BackupError(f"nothing to back up: {state.path} has no {DB_NAME}")
    database = _copy_database(state.db_path)
    master_key: bytes | None = None
    seal_mode, secrets, tokens = _describe(database)
    if with_key:
        if not state.master_key_path.is_file():
            raise BackupError(
                f"--with-key: {state.master_key_path} does not exist (a store unsealed with "
                "Shamir shares keeps no key file; keep the shares instead)"
            )
        try:
            master_key = state.master_key_path.read_bytes()
        except OSError as exc:
            raise BackupError(f"cannot read {state.master_key_path}: {exc.strerror}") from None
    summary = BackupSummary(
        created_at=utc_text(datetime.now(UTC)),
        gitberth_version=__version__,
        with_key=with_key,
        seal_mode=seal_mode,
        secrets=secrets,
        tokens=tokens,
        database_bytes=len(database),
    )
    return BackupContents(summary=summary, database=database, master_key=master_key)


def restore(contents: BackupContents, *, target: Path) -> RestoredState:
    """Lay *contents* down as a new state dir at *target*, which must be absent or empty."""
    require_empty(target)
    memory = _open_image(contents.database)
    memory.close()
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create {parent}: {exc.strerror}") from None
    staging = parent / f".{target.name}.restoring-{random.token_hex(4)}"
    try:
        staging.mkdir(mode=PRIVATE_DIR_MODE)
        os.chmod(staging, PRIVATE_DIR_MODE)
        _write_database(contents.database, staging / DB_NAME)
        if contents.master_key is not None:
            write_private_file(staging / MASTER_KEY_NAME, contents.master_key)
        _move_into_place(staging, target)
    except OSError as exc:
        raise BackupError(f"cannot restore into {target}: {exc.strerror or exc}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return RestoredState(path=target, summary=contents.summary)


def _copy_database(path: Path) -> bytes:
    try:
        source = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from None
    memory = sqlite3.connect(":memory:")
    try:
        source.backup(memory, pages=-1)
        return _rollback_journal_image(memory.serialize())
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy {path}: {exc}") from None
    finally:
        memory.close()
        source.close()


def _rollback_journal_image(image: bytes) -> bytes:
    """*image* marked as a rollback-journal database instead of a WAL one.

    The page copy keeps the source's header, whose bytes 18 and 19 (the file format write and
    read versions) are 2 for WAL; an in-memory database cannot open a WAL image. Setting both
    to 1 (legacy) is what ``PRAGMA journal_mode=DELETE`` writes on disk; the restored file is
    switched back to WAL when it is laid down.
    """
    if len(image) < 100 or not image.startswith(_SQLITE_MAGIC):
        raise BackupError("the database copy is not an SQLite image")
    return image[:18] + b"\x01\x01" + image[20:]


def _describe(database: bytes) -> tuple[str | None, int, int]:
    """Seal mode, number of secrets and of tokens in a database image (absent tables: 0)."""
    memory = _open_image(database, require_store=False)
    try:
        tables = {row[0] for row in memory.execute("SELECT name FROM sqlite_master")}
        seal_mode = None
        if "secret_meta" in tables:
            row = memory.execute("SELECT value FROM secret_meta WHERE key = 'seal_mode'").fetchone()
            seal_mode = None if row is None else str(row[0])
        secrets = _count(memory, "secrets") if "secrets" in tables else 0
        tokens = _count(memory, "api_tokens") if "api_tokens" in tables else 0
        return seal_mode, secrets, tokens
    finally:
        memory.close()


def _count(connection: sqlite3.Connection, table: str) -> int:
    (count,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


def _open_image(database: bytes, *, require_store: bool = True) -> sqlite3.Connection:
    """An in-memory database from an image, after SQLite's own integrity check."""
    memory = sqlite3.connect(":memory:")
    try:
        memory.deserialize(database)
        (verdict,) = memory.execute("PRAGMA integrity_check").fetchone()
        tables = {row[0] for row in memory.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error as exc:
        memory.close()
        raise BackupError(f"the backup's database is unreadable ({exc})") from None
    if verdict != "ok":
        memory.close()
        raise BackupError("the backup's database fails SQLite's integrity check")
    missing = [table for table in _REQUIRED_TABLES if table not in tables]
    if require_store and missing:
        memory.close()
        raise BackupError(
            "the backup's database is not a gitberth state database (no table "
            + ", ".join(missing)
            + ")"
        )
    return memory


def _write_database(database: bytes, path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    os.close(fd)
    memory = _open_image(database)
    try:
        with contextlib.closing(sqlite3.connect(path)) as disk:
            memory.backup(disk, pages=-1)
            disk.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise BackupError(f"cannot write {path}: {exc}") from None
    finally:
        memory.close()
    for suffix in ("", "-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.chmod(side, PRIVATE_FILE_MODE)
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def require_empty(target: Path) -> None:
    """Refuse a restore target that exists and is not an empty directory."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise BackupError(f"restore target {target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise BackupError(
            f"restore target {target} is not empty: restore only into a new or empty state dir"
        )


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the staged state dir to *target*, or its files into an empty existing *target*."""
    require_empty(target)
    if not target.exists():
        os.rename(staging, target)
    else:
        for entry in sorted(staging.iterdir()):
            os.rename(entry, target / entry.name)
        os.chmod(target, PRIVATE_DIR_MODE)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
