"""Backup and restore of a state dir: the only copy of every secret, so it must not be lost.

A backup is one age-encrypted file (see :mod:`.encryption`) holding a tar archive (see
:mod:`.archive`) of a consistent copy of the database (see :mod:`.snapshot`). The master key
is left out unless asked for, because a backup that carries its own key is only as safe as its
passphrase: without the key the backup is ciphertext twice over, and restoring it needs the
original ``master.key`` (or the unseal shares) as well.

``gitberth backup`` / ``restore`` and ``GET /admin/backup`` all go through these two functions.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyrage import x25519

from gitberth.backup import archive, encryption, snapshot
from gitberth.backup.archive import BackupSummary
from gitberth.backup.encryption import Passphrase, Protection, Recipients
from gitberth.backup.snapshot import RestoredState
from gitberth.state import StateDir

__all__ = [
    "BackupSummary",
    "Passphrase",
    "Protection",
    "Recipients",
    "RestoredState",
    "create_backup",
    "key_notice",
    "restore_backup",
]


def create_backup(
    state: StateDir, *, protection: Protection, with_key: bool
) -> tuple[bytes, BackupSummary]:
    """The encrypted backup of *state* and what it holds; safe while ``serve`` writes."""
    contents = snapshot.take(state, with_key=with_key)
    return encryption.encrypt(archive.pack(contents), protection=protection), contents.summary


def restore_backup(
    data: bytes,
    *,
    target: StateDir,
    passphrase: Passphrase | None = None,
    identities: Sequence[x25519.Identity] = (),
) -> RestoredState:
    """Decrypt and verify *data* completely, then lay it down at *target* (absent or empty).

    Every check happens before the first byte is written: a wrong passphrase, an altered
    file or a non-empty target changes nothing.
    """
    snapshot.require_empty(target.path)  # before a passphrase costs a second of scrypt
    plaintext = encryption.decrypt(data, passphrase=passphrase, identities=identities)
    return snapshot.restore(archive.unpack(plaintext), target=target.path)


def key_notice(summary: BackupSummary) -> str:
    """One sentence on whether the master key is in the backup and what that means."""
    if summary.with_key:
        return (
            "The master key IS in this backup: anyone holding the file and its passphrase or "
            "identity can read every secret. Store it like the key itself."
        )
    if summary.seal_mode == "shamir":
        return (
            "The master key is NOT in this backup (none is stored: the store unseals with "
            "Shamir shares); a restored state dir unseals with the same shares."
        )
    return (
        "The master key is NOT in this backup: keep master.key (or its base64 text) apart; "
        "a restored state dir needs it to unseal (copy it in, or `gitberth unseal`)."
    )
