"""Secret files in RAM: one host directory per container, bind-mounted read-only at /run/secrets.

The directory lives on a RAM-backed filesystem (tmpfs or ramfs, checked from
``/proc/self/mountinfo`` before anything is written), so a secret value never reaches a disk.
Files are written the way the kubelet writes projected volumes: into a fresh hidden directory,
then published by one atomic rename, so a container never sees a half-written set. Directories
are removed with their container, and orphans (left by a crash) are swept at start.

No other local user may read them: the root is forced to 0700 and must belong to gitberth's own
user (a root owned by someone else is refused, since they could loosen it again), so nobody but
gitberth (and root) can even reach a container's directory on the host. Inside, the modes are
chosen for the user the container runs as (its manifest's ``user``, else its image's ``USER``):

* root (or no user): directory 0500, files 0400, owned by gitberth;
* a numeric ``UID[:GID]``: the same modes, chowned to that user, so only it can read them;
* a user *name*, resolved in the image's ``/etc/passwd`` where the host cannot look: directory
  0555 and files 0444, readable by any user of that container (still behind the 0700 root).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets as random
import shutil
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitberth.core.errors import ConfigError
from gitberth.core.field_types import is_env_name
from gitberth.core.resolved import ResolvedValue
from gitberth.defaults import DEFAULT_SECRETS_ROOT
from gitberth.git_credentials import CREDENTIALS_PREFIX

RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
ROOT_MODE = 0o700
DIRECTORY_MODE = 0o500
FILE_MODE = 0o400
SHARED_DIRECTORY_MODE = 0o555
SHARED_FILE_MODE = 0o444

Owner = tuple[int, int]
"""The numeric ``(uid, gid)`` a container's process runs as."""


@dataclass(frozen=True)
class FileAccess:
    """Who owns a container's secret files and with which modes."""

    owner: Owner | None
    directory_mode: int
    file_mode: int


def access_for(user: str | None) -> FileAccess:
    """The ownership and modes that let a container running as *user* read its files."""
    owner = numeric_owner(user)
    if not user or user.partition(":")[0] in ("root", "0"):
        return FileAccess(owner=None, directory_mode=DIRECTORY_MODE, file_mode=FILE_MODE)
    if owner is not None:
        return FileAccess(owner=owner, directory_mode=DIRECTORY_MODE, file_mode=FILE_MODE)
    return FileAccess(owner=None, directory_mode=SHARED_DIRECTORY_MODE, file_mode=SHARED_FILE_MODE)


def numeric_owner(user: str | None) -> Owner | None:
    """``(uid, gid)`` for a manifest ``user`` of the form ``UID`` or ``UID:GID``, else None.

    A user *name* is resolved inside the image, which the host cannot see; such a container
    must run as root (or use a numeric user) to read its secret files.
    """
    if not user:
        return None
    uid_text, _, gid_text = user.partition(":")
    if not uid_text.isdigit() or (gid_text and not gid_text.isdigit()):
        return None
    uid = int(uid_text)
    return uid, int(gid_text) if gid_text else uid


def filesystem_type(path: Path, *, mountinfo: str | None = None) -> str | None:
    """The filesystem type of the mount holding *path*, from ``/proc/self/mountinfo``."""
    text = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
    target = str(path.resolve())
    best, best_type = "", None
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        mount_point = fields[4].replace("\\040", " ")
        fs_type = line.split(" - ", 1)[1].split()[0]
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, best_type = mount_point, fs_type
    return best_type


STAGING_PREFIX = "..staging-"
"""Directories still being written; renamed into place when complete."""


_SOURCE_ID = re.compile(r"[0-9a-f]{16}")


def directory_source(name: str) -> str | None:
    """The source id a directory's name starts with (``<source>.<container>.<random>``), or
    None for a name without one (written before names carried it). A container name always
    holds a ``-``, so it is never mistaken for a source id."""
    first = name.removeprefix(STAGING_PREFIX).split(".", 1)[0]
    return first if _SOURCE_ID.fullmatch(first) else None


class SecretFilesRoot:
    """The RAM-backed directory under which every container's secret files live."""

    def __init__(self, root: Path = DEFAULT_SECRETS_ROOT) -> None:
        self.root = root
        self._checked = False

    def check(self) -> None:
        """Refuse to go on unless the root is ours, private (0700) and on tmpfs or ramfs.

        The root is created if needed; an existing one of ours is tightened to 0700.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=ROOT_MODE)
        except OSError as exc:
            raise ConfigError(f"cannot create the secrets directory {self.root}: {exc}") from exc
        self._check_private()
        fs_type = filesystem_type(self.root)
        if fs_type not in RAM_FILESYSTEMS:
            raise ConfigError(
                f"the secrets directory {self.root} is on {fs_type or 'an unknown filesystem'}, "
                "not in RAM; mount a tmpfs there (e.g. `mount -t tmpfs -o mode=0700 tmpfs "
                f"{self.root}`) or choose another with --secrets-dir"
            )
        self._checked = True

    def _check_private(self) -> None:
        info = os.lstat(self.root)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise ConfigError(f"the secrets directory {self.root} is not a plain directory")
        if info.st_uid != os.geteuid():
            raise ConfigError(
                f"the secrets directory {self.root} belongs to uid {info.st_uid}, not to "
                f"gitberth's uid {os.geteuid()}; another user could read every secret file "
                "there: remove it or choose another with --secrets-dir"
            )
        if stat.S_IMODE(info.st_mode) != ROOT_MODE:
            try:
                os.chmod(self.root, ROOT_MODE)
            except OSError as exc:
                raise ConfigError(
                    f"the secrets directory {self.root} is mode "
                    f"{stat.S_IMODE(info.st_mode):04o} and cannot be made 0700: {exc}"
                ) from exc
        if stat.S_IMODE(os.lstat(self.root).st_mode) & 0o077:
            raise ConfigError(f"the secrets directory {self.root} is open to other users")

    def write(
        self,
        *,
        container_name: str,
        files: Mapping[str, ResolvedValue],
        user: str | None = None,
        source: str | None = None,
    ) -> Path:
        """Write one container's files into a new directory and return its path.

        *user* is who the container runs as (see :func:`access_for`). *source* (the
        ``gitberth.source`` id) prefixes the directory's name, so that several gitberth
        instances sharing one root each sweep only their own (see :meth:`sweep`).
        """
        access = access_for(user)
        if not self._checked:
            self.check()
        for key in files:
            if not is_env_name(key):
                raise ConfigError(f"secret key {key!r} is not a safe file name")
        owner = f"{source}." if source else ""
        final = self.root / f"{owner}{container_name}.{random.token_hex(6)}"
        staging = self.root / f"{STAGING_PREFIX}{owner}{random.token_hex(6)}"
        staging.mkdir(mode=0o700)
        try:
            for key, item in sorted(files.items()):
                target = staging / key
                if target.resolve().parent != staging.resolve():
                    raise ConfigError(f"secret key {key!r} points outside its directory")
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(item.value.get_secret_value())
                os.chmod(target, access.file_mode)
                if access.owner is not None:
                    os.chown(target, *access.owner, follow_symlinks=False)
            if access.owner is not None:
                os.chown(staging, *access.owner, follow_symlinks=False)
            os.chmod(staging, access.directory_mode)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return final

    def remove(self, path: str | Path) -> None:
        """Delete one container's directory; refuse anything outside the root or a symlink."""
        target = Path(path)
        if target.parent != self.root or target.is_symlink():
            return
        _remove_tree(target)

    def sweep(self, *, in_use: Iterable[str], source: str | None = None) -> list[Path]:
        """Remove every directory no existing container mounts; return what was removed.

        With *source*, another source's directories (and its half-written ones) are left
        alone: another gitberth sharing the root, following another repository or driving
        another engine, has containers this one cannot see. Directories written before names
        carried a source are swept as before.
        """
        keep = {Path(p) for p in in_use}
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for entry in self.root.iterdir():
            if entry.name.startswith(CREDENTIALS_PREFIX):
                continue  # a Git command's credentials, removed by that command itself
            owner = directory_source(entry.name)
            if source and owner is not None and owner != source:
                continue  # another instance's: never ours to judge
            if entry not in keep and not entry.is_symlink() and entry.is_dir():
                _remove_tree(entry)
                removed.append(entry)
        return removed


def _remove_tree(path: Path) -> None:
    """Delete a container's directory; it is 0500, so make it writable first (for non-root)."""
    with contextlib.suppress(OSError):
        os.chmod(path, ROOT_MODE)
    shutil.rmtree(path, ignore_errors=True)
