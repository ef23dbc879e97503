"""The archive inside a backup: it reads back exactly what was packed, and refuses anything a
forged archive could carry besides the state it describes (extra members, links, paths, a
newer format, a manifest that disagrees with the files)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

from gitberth.backup import archive
from gitberth.backup.archive import BackupContents, BackupSummary
from gitberth.core.errors import BackupError

SUMMARY = BackupSummary(
    created_at="2026-12-02T05:00:00Z",
    gitberth_version="0.1.0",
    with_key=False,
    seal_mode="auto",
    secrets=2,
    tokens=1,
    database_bytes=7,
)


def contents(*, key: bytes | None = None) -> BackupContents:
    summary = BackupSummary(**{**SUMMARY.__dict__, "with_key": key is not None})
    return BackupContents(summary=summary, database=b"db-page", master_key=key)


def tar_of(members: dict[str, bytes], *, symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if symlink is not None:
            link = tarfile.TarInfo(symlink)
            link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(link)
    return buffer.getvalue()


def manifest(**changes: object) -> bytes:
    document: dict[str, object] = {
        "format": "gitberth-backup",
        "version": 1,
        **SUMMARY.as_json(),
        "files": {"gitberth.db": {"bytes": 7, "sha256": hashlib.sha256(b"db-page").hexdigest()}},
    }
    document.update(changes)
    return json.dumps(document).encode()


def test_what_is_packed_reads_back_with_and_without_the_key() -> None:
    plain = archive.unpack(archive.pack(contents()))
    assert (plain.database, plain.master_key, plain.summary) == (b"db-page", None, SUMMARY)
    keyed = archive.unpack(archive.pack(contents(key=b"base64-key\n")))
    assert keyed.master_key == b"base64-key\n" and keyed.summary.with_key


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            tar_of(
                {"gitberth-backup.json": manifest(), "gitberth.db": b"db-page", "../escape": b"x"}
            ),
            "unexpected member",
        ),
        (
            tar_of(
                {"gitberth-backup.json": manifest(), "gitberth.db": b"db-page"},
                symlink="master.key",
            ),
            "not one regular file",
        ),
        (
            tar_of({"gitberth-backup.json": manifest(version=2), "gitberth.db": b"db-page"}),
            "format version 2",
        ),
        (
            tar_of({"gitberth-backup.json": manifest(withKey=True), "gitberth.db": b"db-page"}),
            "disagree",
        ),
        (tar_of({"gitberth-backup.json": manifest(), "gitberth.db": b"db-pagE"}), "checksum"),
        (tar_of({"gitberth.db": b"db-page"}), "no gitberth-backup.json"),
        (tar_of({"gitberth-backup.json": b"{not json", "gitberth.db": b"db-page"}), "not JSON"),
        (b"not a tar archive at all" * 40, "unreadable"),
    ],
    ids=[
        "path",
        "symlink",
        "newer-format",
        "key-disagrees",
        "checksum",
        "no-manifest",
        "bad-manifest",
        "not-tar",
    ],
)
def test_a_forged_archive_is_refused(data: bytes, problem: str) -> None:
    with pytest.raises(BackupError, match=problem):
        archive.unpack(data)
