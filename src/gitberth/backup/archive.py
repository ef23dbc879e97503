"""The plaintext inside a backup: a tar archive with a manifest, the database and maybe the key.

Members, in this order:

* ``gitberth-backup.json``: format and version, when and by which gitberth it was taken,
  whether the master key is included, the seal mode, counts, and the size and SHA-256 of every
  other member;
* ``gitberth.db``: a consistent copy of the SQLite database (ciphertext, hashed tokens, status,
  audit log);
* ``master.key``: only in a backup taken with ``--with-key``.

The archive is built and read in memory: it is never written to disk unencrypted, since with the
key inside it is everything an attacker needs. Reading accepts exactly these member names as
regular files (no paths, links or devices) and checks every checksum, so even a backup that
decrypts can not smuggle in anything but the state it describes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from dataclasses import dataclass
from typing import Any

from gitberth.core.errors import BackupError
from gitberth.state import DB_NAME, MASTER_KEY_NAME

FORMAT_NAME = "gitberth-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "gitberth-backup.json"
MAX_MEMBER_BYTES = 4 * 1024**3
_MAX_MANIFEST_BYTES = 64 * 1024


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds, as its manifest says; never a value or a key."""

    created_at: str
    gitberth_version: str
    with_key: bool
    seal_mode: str | None
    secrets: int
    tokens: int
    database_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {
            "createdAt": self.created_at,
            "gitberthVersion": self.gitberth_version,
            "withKey": self.with_key,
            "sealMode": self.seal_mode,
            "secrets": self.secrets,
            "tokens": self.tokens,
            "databaseBytes": self.database_bytes,
        }


@dataclass(frozen=True, repr=False)
class BackupContents:
    """The state a backup carries: database image, and the master key file when included."""

    summary: BackupSummary
    database: bytes
    master_key: bytes | None

    def __repr__(self) -> str:
        return f"BackupContents({self.summary!r})"


def pack(contents: BackupContents) -> bytes:
    """The tar archive of *contents* with its manifest first."""
    members = {DB_NAME: contents.database}
    if contents.master_key is not None:
        members[MASTER_KEY_NAME] = contents.master_key
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        **contents.summary.as_json(),
        "files": {
            name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in members.items()
        },
    }
    buffer = io.BytesIO()
    mtime = time.time()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
        for name, data in ((MANIFEST_NAME, manifest_bytes), *members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o600, mtime
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpack(data: bytes) -> BackupContents:
    """Read and verify an archive made by :func:`pack`; :class:`BackupError` otherwise."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for info in archive:
                if info.name not in (MANIFEST_NAME, DB_NAME, MASTER_KEY_NAME):
                    raise BackupError(f"the backup holds an unexpected member {info.name!r}")
                if not info.isreg() or info.name in members:
                    raise BackupError(f"the backup's member {info.name} is not one regular file")
                if info.size > MAX_MEMBER_BYTES:
                    raise BackupError(f"the backup's member {info.name} is too large")
                handle = archive.extractfile(info)
                assert handle is not None  # a regular file always has content
                members[info.name] = handle.read()
    except tarfile.TarError as exc:
        raise BackupError(f"the backup's archive is unreadable ({exc})") from None
    manifest = _manifest(members.pop(MANIFEST_NAME, None))
    files = manifest.get("files")
    if not isinstance(files, dict) or set(files) != set(members):
        raise BackupError("the backup's manifest does not list exactly the files it holds")
    for name, data_bytes in members.items():
        expected = files[name]
        if not isinstance(expected, dict) or expected.get("sha256") != (
            hashlib.sha256(data_bytes).hexdigest()
        ):
            raise BackupError(f"the backup's {name} does not match its checksum")
    if DB_NAME not in members:
        raise BackupError(f"the backup holds no {DB_NAME}")
    with_key = manifest.get("withKey") is True
    if with_key != (MASTER_KEY_NAME in members):
        raise BackupError("the backup's manifest and its master key file disagree")
    try:
        summary = BackupSummary(
            created_at=str(manifest["createdAt"]),
            gitberth_version=str(manifest["gitberthVersion"]),
            with_key=with_key,
            seal_mode=None if manifest["sealMode"] is None else str(manifest["sealMode"]),
            secrets=int(manifest["secrets"]),
            tokens=int(manifest["tokens"]),
            database_bytes=len(members[DB_NAME]),
        )
    except (KeyError, TypeError, ValueError):
        raise BackupError("the backup's manifest lacks a field or has a wrong type") from None
    return BackupContents(
        summary=summary, database=members[DB_NAME], master_key=members.get(MASTER_KEY_NAME)
    )


def _manifest(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise BackupError(f"the backup holds no {MANIFEST_NAME}: it is not a gitberth backup")
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise BackupError(f"the backup's {MANIFEST_NAME} is too large")
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise BackupError(f"the backup's {MANIFEST_NAME} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BackupError("this is not a gitberth backup")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"this backup has format version {manifest.get('version')!r}; this gitberth reads "
            f"version {FORMAT_VERSION}: restore it with the gitberth that wrote it or newer"
        )
    return manifest
