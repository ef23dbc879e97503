"""How a backup is encrypted: the age file format (age-encryption.org/v1), through ``pyrage``.

age is a reviewed, specified format with two ways in, both of which backups need:

* a **passphrase** (scrypt, work factor calibrated by age to about a second), for an operator
  typing it or a ``GITBERTH_BACKUP_PASSPHRASE`` in a cron job;
* **X25519 recipients** (``age1...`` public keys), so a host can write backups it cannot read
  back itself: only the holder of the matching ``AGE-SECRET-KEY-1...`` identity can restore.

The payload is encrypted in authenticated 64 KiB chunks with a final-chunk flag, and the
header carries a MAC, so a bit flipped anywhere, a truncated file or a wrong passphrase all fail
decryption as a whole: nothing half-read is ever returned. A backup is also readable with the
``age`` or ``rage`` command-line tools (``age -d backup.age > backup.tar``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyrage
from pyrage import passphrase as age_passphrase
from pyrage import x25519

from gitberth.core.errors import BackupError

MIN_PASSPHRASE_CHARS = 12
AGE_MAGIC = b"age-encryption.org/v1\n"
_HEADER_END = b"\n---"


@dataclass(frozen=True, repr=False)
class Passphrase:
    """A backup passphrase; never printed (its ``repr`` hides it)."""

    text: str

    def __post_init__(self) -> None:
        if len(self.text) < MIN_PASSPHRASE_CHARS:
            raise BackupError(
                f"the backup passphrase must be at least {MIN_PASSPHRASE_CHARS} characters"
            )
        if "\x00" in self.text or "\n" in self.text:
            raise BackupError("the backup passphrase must not contain NUL or newline characters")

    def __repr__(self) -> str:
        return "Passphrase(<hidden>)"


@dataclass(frozen=True)
class Recipients:
    """age X25519 public keys (``age1...``); any one matching identity decrypts."""

    keys: tuple[str, ...]

    @classmethod
    def parse(cls, texts: Sequence[str]) -> Recipients:
        keys = tuple(text.strip() for text in texts if text.strip())
        if not keys:
            raise BackupError("give at least one age recipient (age1...)")
        for position, key in enumerate(keys, start=1):
            _recipient(key, position=position)
        return cls(keys)


Protection = Passphrase | Recipients


def parse_identities(text: str) -> list[x25519.Identity]:
    """The ``AGE-SECRET-KEY-1...`` lines of an age identity file (``#`` comments skipped)."""
    identities: list[x25519.Identity] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(stripped))
        except pyrage.IdentityError:
            raise BackupError(
                f"line {number} of the identity file is not an age X25519 secret key "
                "(AGE-SECRET-KEY-1...)"
            ) from None
    if not identities:
        raise BackupError("the identity file holds no age secret key (AGE-SECRET-KEY-1...)")
    return identities


def encrypt(plaintext: bytes, *, protection: Protection) -> bytes:
    """*plaintext* as an age file for *protection*."""
    try:
        if isinstance(protection, Passphrase):
            return age_passphrase.encrypt(plaintext, protection.text)
        return pyrage.encrypt(
            plaintext,
            [_recipient(key, position=n) for n, key in enumerate(protection.keys, start=1)],
        )
    except pyrage.EncryptError as exc:
        raise BackupError(f"cannot encrypt the backup: {exc}") from None


def decrypt(
    data: bytes,
    *,
    passphrase: Passphrase | None = None,
    identities: Sequence[x25519.Identity] = (),
) -> bytes:
    """The plaintext of an age file; :class:`BackupError` for anything but a perfect match.

    A wrong passphrase or identity, a truncated file and one altered bit are all refused the
    same way: age authenticates the header and every chunk.
    """
    kind = stanza_kind(data)
    try:
        if kind == "scrypt":
            if passphrase is None:
                raise BackupError("this backup is protected by a passphrase: give it")
            return age_passphrase.decrypt(data, passphrase.text)
        if not identities:
            raise BackupError(
                f"this backup is encrypted to an age recipient ({kind}): give the identity "
                "file holding its secret key (--identity)"
            )
        return pyrage.decrypt(data, list(identities))
    except pyrage.DecryptError as exc:
        raise BackupError(
            f"the backup does not decrypt ({exc}): a wrong passphrase or identity, or the "
            "file was altered or cut short"
        ) from None


def stanza_kind(data: bytes) -> str:
    """The recipient type of an age file's first stanza (``scrypt``, ``X25519``, ...).

    The age header is plain text by design; reading it tells whether to ask for a passphrase
    or an identity before any key is tried.
    """
    if not data.startswith(AGE_MAGIC):
        raise BackupError("this is not a gitberth backup (not an age-encrypted file)")
    header_end = data.find(_HEADER_END, 0, 64 * 1024)
    header = data[len(AGE_MAGIC) : header_end if header_end >= 0 else 0]
    first = header.split(b"\n", 1)[0]
    parts = first.split(b" ")
    if len(parts) < 2 or parts[0] != b"->":
        raise BackupError("the backup's age header is malformed: the file was altered")
    return parts[1].decode("ascii", errors="replace")


def _recipient(key: str, *, position: int) -> x25519.Recipient:
    """Parse one public key; the error names its position, never the text (it could be a
    secret key pasted by mistake)."""
    try:
        return x25519.Recipient.from_str(key)
    except pyrage.RecipientError:
        raise BackupError(
            f"recipient {position} is not an age X25519 public key (age1...)"
        ) from None
