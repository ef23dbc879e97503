"""The state directory: gitberth's only place on disk, kept private to the server's user.

It holds the SQLite database ``gitberth.db`` (secrets as ciphertext, hashed tokens, audit,
status and events; see :mod:`gitberth.database`) and, in the default auto-unseal setup, the
base64 master key in ``master.key``. Every file is created mode 0600 in a 0700 directory,
because the master key file and the database together are everything an attacker would need.

Where it is, first match wins:

1. ``--state-dir`` on the command line;
2. ``$GITBERTH_STATE_DIR``;
3. ``/var/lib/gitberth`` when running as root;
4. ``~/.local/state/gitberth`` otherwise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gitberth.core.errors import ConfigError

DB_NAME = "gitberth.db"
MASTER_KEY_NAME = "master.key"
STATE_DIR_ENV = "GITBERTH_STATE_DIR"
ROOT_STATE_DIR = Path("/var/lib/gitberth")
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
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
