"""Envelope encryption of secret records; the only module that imports ``cryptography``.

Three layers of keys, so that rotating or sealing never re-encrypts a secret's data:

* the **master key** (32 bytes) is what an operator holds: the ``master.key`` file in the default
  setup, or Shamir shares of it. It only wraps term keys, through an HKDF-derived AES-GCM key.
* a **term key** (32 bytes, one per master key term) wraps data keys. ``POST /admin/rotate``
  starts a new term and rewraps every data key under it; records of older terms stay readable
  until they are rewrapped. Each term counts its encryptions, because random 96-bit nonces are
  only safe for about 2**32 encryptions under one key.
* a **data key** (32 bytes, fresh for every secret version) encrypts the secret's payload once.

A record is ``header | wrap nonce | wrapped data key | data nonce | ciphertext`` where the header
is ``b"GBS" | format version | term``. The additional authenticated data binds the format
version, the kind, scope, appId, name, key names and (format 2) the record's version number;
the wrapped data key also binds the term. A ciphertext moved to another row or scope, given
another version number, truncated, or altered in one bit fails to decrypt with
:class:`SecretIntegrityError`, which never carries a value. The store keeps a monotonic version
counter per name and scope beside the records, so an older record put back (whose bound version
is lower) is refused too.

Format 1 (before the version was bound) still decrypts when the caller allows it: the store does
so only until it has rewritten every format-1 record as format 2, at the first unseal after an
upgrade, and refuses format 1 from then on.

Keys live in ``bytearray`` so :meth:`wipe` can overwrite them when the store is sealed. That is
best effort: ``AESGCM`` keeps its own copy, which is released by dropping the object.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gitberth.core.errors import SealedError, SecretIntegrityError, UnsealError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
RECORD_MAGIC = b"GBS"
RECORD_FORMAT_VERSION = 2
LEGACY_RECORD_FORMAT = 1
_KNOWN_FORMATS = frozenset({LEGACY_RECORD_FORMAT, RECORD_FORMAT_VERSION})
_HEADER = struct.Struct(">3sBI")
_WRAPPED_KEY_BYTES = KEY_BYTES + TAG_BYTES
_MIN_RECORD_BYTES = _HEADER.size + NONCE_BYTES + _WRAPPED_KEY_BYTES + NONCE_BYTES + TAG_BYTES
_MASTER_KEK_INFO = b"gitberth master key-encryption key v1"


def random_key() -> bytearray:
    """A fresh 256-bit key from the OS CSPRNG."""
    return bytearray(os.urandom(KEY_BYTES))


def _wipe(buffer: bytearray) -> None:
    for index in range(len(buffer)):
        buffer[index] = 0


@dataclass(frozen=True)
class RecordIdentity:
    """Where a record belongs; all of it is bound into the record as AAD."""

    kind: str
    scope: str
    app_id: str
    name: str
    keys: tuple[str, ...] = ()
    version: int = 0
    """The record's version number; bound from format 2 on (0 for records that have none)."""

    def aad(self, prefix: bytes, *, record_format: int = RECORD_FORMAT_VERSION) -> bytes:
        fields: list[object] = [self.kind, self.scope, self.app_id, self.name, list(self.keys)]
        if record_format != LEGACY_RECORD_FORMAT:
            fields.append(self.version)
        return prefix + json.dumps(fields, separators=(",", ":")).encode()


class MasterKey:
    """The operator's key: wraps and unwraps term keys, nothing else."""

    def __init__(self, raw: bytes | bytearray) -> None:
        if len(raw) != KEY_BYTES:
            raise UnsealError(f"a master key is {KEY_BYTES} bytes, not {len(raw)}")
        self._raw = bytearray(raw)
        kek = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_MASTER_KEK_INFO
        ).derive(bytes(self._raw))
        self._aead: AESGCM | None = AESGCM(kek)

    @classmethod
    def generate(cls) -> MasterKey:
        raw = random_key()
        try:
            return cls(raw)
        finally:
            _wipe(raw)

    @classmethod
    def from_base64(cls, text: str) -> MasterKey:
        try:
            raw = bytearray(base64.b64decode(text.strip(), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise UnsealError("the master key is not valid base64") from exc
        try:
            return cls(raw)
        finally:
            _wipe(raw)

    def to_base64(self) -> str:
        return base64.b64encode(bytes(self._raw)).decode()

    def raw(self) -> bytes:
        """The key bytes, for splitting into shares at ``init`` time only."""
        return bytes(self._raw)

    def wrap_term_key(self, key: TermKey) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._require().encrypt(nonce, key.raw(), _term_aad(key.term))

    def unwrap_term_key(self, *, term: int, blob: bytes) -> TermKey:
        """The term key, or :class:`UnsealError` when this is not the master key that wrapped it."""
        nonce, sealed = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
        try:
            raw = bytearray(self._require().decrypt(nonce, sealed, _term_aad(term)))
        except (InvalidTag, ValueError) as exc:
            raise UnsealError("the key does not unseal this store") from exc
        try:
            return TermKey(term=term, raw=raw)
        finally:
            _wipe(raw)

    def wipe(self) -> None:
        _wipe(self._raw)
        self._aead = None

    def _require(self) -> AESGCM:
        if self._aead is None:
            raise SealedError()
        return self._aead


def _term_aad(term: int) -> bytes:
    return b"gitberth term key v1:" + struct.pack(">I", term)


class TermKey:
    """The key of one master key term; wraps data keys."""

    def __init__(self, *, term: int, raw: bytes | bytearray) -> None:
        if len(raw) != KEY_BYTES:
            raise SecretIntegrityError("a term key has the wrong length")
        self.term = term
        self._raw = bytearray(raw)
        self._aead: AESGCM | None = AESGCM(bytes(self._raw))

    @classmethod
    def generate(cls, term: int) -> TermKey:
        raw = random_key()
        try:
            return cls(term=term, raw=raw)
        finally:
            _wipe(raw)

    def raw(self) -> bytes:
        return bytes(self._raw)

    def aead(self) -> AESGCM:
        if self._aead is None:
            raise SealedError()
        return self._aead

    def wipe(self) -> None:
        _wipe(self._raw)
        self._aead = None


class Keyring:
    """The term keys of an unsealed store; encrypts under the newest, decrypts under any."""

    def __init__(self, terms: dict[int, TermKey]) -> None:
        if not terms:
            raise SecretIntegrityError("the keyring has no term key")
        self._terms = dict(terms)

    @property
    def current_term(self) -> int:
        return max(self._terms)

    @property
    def terms(self) -> tuple[int, ...]:
        return tuple(sorted(self._terms))

    def add(self, key: TermKey) -> None:
        self._terms[key.term] = key

    def key(self, term: int) -> TermKey:
        """The key of *term* (to wrap it under a new master key)."""
        try:
            return self._terms[term]
        except KeyError:
            raise SecretIntegrityError(f"key term {term} is not loaded") from None

    def drop(self, term: int) -> None:
        key = self._terms.pop(term, None)
        if key is not None:
            key.wipe()

    def encrypt(self, *, identity: RecordIdentity, plaintext: bytes) -> bytes:
        """A new record under a fresh data key wrapped by the current term key."""
        data_key = random_key()
        try:
            data_nonce = os.urandom(NONCE_BYTES)
            ciphertext = AESGCM(bytes(data_key)).encrypt(
                data_nonce, plaintext, identity.aad(_data_aad_prefix(RECORD_FORMAT_VERSION))
            )
            wrapped = self._wrap(
                identity=identity, data_key=data_key, record_format=RECORD_FORMAT_VERSION
            )
            return wrapped + data_nonce + ciphertext
        finally:
            _wipe(data_key)

    def decrypt(self, *, identity: RecordIdentity, blob: bytes, allow_legacy: bool = True) -> bytes:
        """The plaintext of *blob*, or :class:`SecretIntegrityError` if anything does not match.

        *allow_legacy* accepts format 1 records, whose version number is not bound.
        """
        record_format = _checked_format(blob, identity=identity, allow_legacy=allow_legacy)
        data_key = self._unwrap(identity=identity, blob=blob)
        try:
            rest = blob[_HEADER.size + NONCE_BYTES + _WRAPPED_KEY_BYTES :]
            data_nonce, ciphertext = rest[:NONCE_BYTES], rest[NONCE_BYTES:]
            try:
                return AESGCM(bytes(data_key)).decrypt(
                    data_nonce,
                    ciphertext,
                    identity.aad(_data_aad_prefix(record_format), record_format=record_format),
                )
            except (InvalidTag, ValueError) as exc:
                raise _integrity(identity) from exc
        finally:
            _wipe(data_key)

    def rewrap(self, *, identity: RecordIdentity, blob: bytes) -> bytes:
        """*blob* with its data key rewrapped under the current term; the data is untouched."""
        record_format = record_format_of(blob, identity=identity)
        data_key = self._unwrap(identity=identity, blob=blob)
        try:
            tail = blob[_HEADER.size + NONCE_BYTES + _WRAPPED_KEY_BYTES :]
            return (
                self._wrap(identity=identity, data_key=data_key, record_format=record_format) + tail
            )
        finally:
            _wipe(data_key)

    def wipe(self) -> None:
        for key in self._terms.values():
            key.wipe()
        self._terms.clear()

    def _wrap(self, *, identity: RecordIdentity, data_key: bytearray, record_format: int) -> bytes:
        term = self.current_term
        header = _HEADER.pack(RECORD_MAGIC, record_format, term)
        nonce = os.urandom(NONCE_BYTES)
        aad = identity.aad(header, record_format=record_format)
        wrapped = self._terms[term].aead().encrypt(nonce, bytes(data_key), aad)
        return header + nonce + wrapped

    def _unwrap(self, *, identity: RecordIdentity, blob: bytes) -> bytearray:
        term = record_term(blob, identity=identity)
        key = self._terms.get(term)
        if key is None:
            raise SecretIntegrityError(
                f"{_describe(identity)} is encrypted under key term {term}, which is not loaded"
            )
        header = blob[: _HEADER.size]
        nonce = blob[_HEADER.size : _HEADER.size + NONCE_BYTES]
        wrapped = blob[_HEADER.size + NONCE_BYTES : _HEADER.size + NONCE_BYTES + _WRAPPED_KEY_BYTES]
        aad = identity.aad(header, record_format=record_format_of(blob, identity=identity))
        try:
            return bytearray(key.aead().decrypt(nonce, wrapped, aad))
        except (InvalidTag, ValueError) as exc:
            raise _integrity(identity) from exc


def record_term(blob: bytes, *, identity: RecordIdentity) -> int:
    """The key term in a record's header; :class:`SecretIntegrityError` if it is malformed."""
    record_format_of(blob, identity=identity)
    return int(_HEADER.unpack_from(blob)[2])


def record_format_of(blob: bytes, *, identity: RecordIdentity) -> int:
    """The format version in a record's header (1 or 2); :class:`SecretIntegrityError` if the
    record is truncated or of no known format."""
    if len(blob) < _MIN_RECORD_BYTES:
        raise _integrity(identity, "is truncated")
    magic, record_format, _ = _HEADER.unpack_from(blob)
    if magic != RECORD_MAGIC or record_format not in _KNOWN_FORMATS:
        raise _integrity(identity, "has an unknown record format")
    return int(record_format)


def _checked_format(blob: bytes, *, identity: RecordIdentity, allow_legacy: bool) -> int:
    record_format = record_format_of(blob, identity=identity)
    if record_format == LEGACY_RECORD_FORMAT and not allow_legacy:
        raise _integrity(
            identity,
            "is a format 1 record although every record was rewritten as format 2 (put back "
            "from an older copy?)",
        )
    return record_format


def _data_aad_prefix(record_format: int) -> bytes:
    return RECORD_MAGIC + bytes([record_format])


def _describe(identity: RecordIdentity) -> str:
    where = "shared" if not identity.app_id else f"app {identity.app_id}"
    return f"{identity.kind} {identity.name} ({where})"


def _integrity(identity: RecordIdentity, problem: str = "does not decrypt") -> SecretIntegrityError:
    return SecretIntegrityError(
        f"{_describe(identity)} {problem}: it was altered, moved, or the key is wrong"
    )


def hmac_hex(key: bytes | bytearray, value: str) -> str:
    """Hex HMAC-SHA256 of *value*: a fingerprint that reveals nothing without the key."""
    return hmac.new(bytes(key), value.encode("utf-8"), hashlib.sha256).hexdigest()
