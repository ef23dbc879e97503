"""Secret files in RAM: one host directory per container, bind-mounted read-only at /run/secrets.

The directory lives on a RAM-backed filesystem (tmpfs or ramfs, checked from
``/proc/self/mountinfo`` before anything is written), so a secret value never reaches a disk.
Files are written the way the kubelet writes projected volumes: into a fresh hidden directory,
then published by one atomic rename, so a container never sees a half-written set. Directories
are removed with their container, and orphans (left by a crash) are swept at start.
"""

from __future__ import annotations

import os
import secrets as random
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from gitberth.core.errors import ConfigError
from gitberth.core.models import ResolvedValue, is_env_name
from gitberth.defaults import DEFAULT_SECRETS_ROOT

RAM_FILESYSTEMS = frozenset({"tmpfs", "ramfs"})
_FILE_MODE = 0o444  # read-only for every uid: images run as arbitrary users


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


class SecretFilesRoot:
    """The RAM-backed directory under which every container's secret files live."""

    def __init__(self, root: Path = DEFAULT_SECRETS_ROOT) -> None:
        self.root = root
        self._checked = False

    def check(self) -> None:
        """Refuse to go on unless the root exists on tmpfs or ramfs (creating it if needed)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"cannot create the secrets directory {self.root}: {exc}") from exc
        fs_type = filesystem_type(self.root)
        if fs_type not in RAM_FILESYSTEMS:
            raise ConfigError(
                f"the secrets directory {self.root} is on {fs_type or 'an unknown filesystem'}, "
                "not in RAM; mount a tmpfs there (e.g. `mount -t tmpfs -o mode=0700 tmpfs "
                f"{self.root}`) or choose another with --secrets-dir"
            )
        self._checked = True

    def write(self, *, container_name: str, files: Mapping[str, ResolvedValue]) -> Path:
        """Write one container's files into a new directory and return its path."""
        if not self._checked:
            self.check()
        for key in files:
            if not is_env_name(key):
                raise ConfigError(f"secret key {key!r} is not a safe file name")
        final = self.root / f"{container_name}.{random.token_hex(6)}"
        staging = self.root / f"..staging-{random.token_hex(6)}"
        staging.mkdir(mode=0o755)
        try:
            for key, item in sorted(files.items()):
                target = staging / key
                if target.resolve().parent != staging.resolve():
                    raise ConfigError(f"secret key {key!r} points outside its directory")
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(item.value.get_secret_value())
                os.chmod(target, _FILE_MODE)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return final

    def owns(self, path: str) -> bool:
        return Path(path).parent == self.root

    def remove(self, path: str | Path) -> None:
        """Delete one container's directory; refuse anything outside the root or a symlink."""
        target = Path(path)
        if target.parent != self.root or target.is_symlink():
            return
        shutil.rmtree(target, ignore_errors=True)

    def sweep(self, *, in_use: Iterable[str]) -> list[Path]:
        """Remove every directory no existing container mounts; return what was removed."""
        keep = {Path(p) for p in in_use}
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for entry in self.root.iterdir():
            if entry not in keep and not entry.is_symlink() and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(entry)
        return removed
