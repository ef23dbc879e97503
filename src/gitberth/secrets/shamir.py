"""Shamir shares of the 32-byte master key, for operators who must not hold it alone.

pycryptodome's maintained :class:`Crypto.Protocol.SecretSharing.Shamir` shares 16-byte secrets
over GF(2^128), so the key is split as two halves with the same share indices; any *threshold*
shares rebuild both halves, fewer reveal nothing about either.

A share travels as base64 of ``b"GK" | format version | index | threshold | 32 bytes``, so the
unseal endpoint can tell a share from a whole master key (32 bytes) and check its threshold.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir

from gitberth.core.errors import UnsealError

SHARE_MAGIC = b"GK"
SHARE_FORMAT_VERSION = 1
_HALF = 16
_KEY_BYTES = 2 * _HALF
SHARE_BYTES = len(SHARE_MAGIC) + 3 + _KEY_BYTES
MAX_SHARES = 255


@dataclass(frozen=True)
class Share:
    """One participant's share: its index (1..255), the threshold, and 32 bytes of share data."""

    index: int
    threshold: int
    data: bytes

    def encode(self) -> str:
        header = SHARE_MAGIC + bytes([SHARE_FORMAT_VERSION, self.index, self.threshold])
        return base64.b64encode(header + self.data).decode()

    @classmethod
    def decode(cls, text: str) -> Share:
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise UnsealError("the share is not valid base64") from exc
        return cls.from_bytes(raw)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Share:
        if len(raw) != SHARE_BYTES or not raw.startswith(SHARE_MAGIC):
            raise UnsealError("this is neither a master key nor a gitberth key share")
        version, index, threshold = raw[2], raw[3], raw[4]
        if version != SHARE_FORMAT_VERSION or index == 0 or threshold == 0:
            raise UnsealError("this key share has an unknown format")
        return cls(index=index, threshold=threshold, data=bytes(raw[5:]))


def looks_like_share(raw: bytes) -> bool:
    return len(raw) == SHARE_BYTES and raw.startswith(SHARE_MAGIC)


def validate_split(*, shares: int, threshold: int) -> None:
    """Refuse share counts that pycryptodome cannot honour or that would make sharing pointless."""
    if not 1 <= shares <= MAX_SHARES:
        raise ValueError(f"shares must be between 1 and {MAX_SHARES}")
    if not 1 <= threshold <= shares:
        raise ValueError("threshold must be between 1 and the number of shares")
    if threshold == 1 and shares > 1:
        raise ValueError("a threshold of 1 would make every share the whole key; use 2 or more")


def split(key: bytes, *, shares: int, threshold: int) -> list[Share]:
    """Split *key* (32 bytes) into *shares* shares, any *threshold* of which rebuild it."""
    validate_split(shares=shares, threshold=threshold)
    if len(key) != _KEY_BYTES:
        raise ValueError(f"the key must be {_KEY_BYTES} bytes")
    if threshold == 1:
        return [Share(index=1, threshold=1, data=bytes(key))]
    low = Shamir.split(threshold, shares, key[:_HALF])
    high = Shamir.split(threshold, shares, key[_HALF:])
    return [
        Share(index=index, threshold=threshold, data=bytes(first) + bytes(second))
        for (index, first), (_, second) in zip(low, high, strict=True)
    ]


def combine(shares: Sequence[Share]) -> bytes:
    """The key rebuilt from exactly *threshold* distinct shares.

    A wrong share yields a wrong key, not an error; the caller detects that when the key fails
    to unwrap the keyring.
    """
    if not shares:
        raise UnsealError("no shares to combine")
    threshold = shares[0].threshold
    if any(share.threshold != threshold for share in shares):
        raise UnsealError("the shares come from different splits (their thresholds differ)")
    if len({share.index for share in shares}) != len(shares):
        raise UnsealError("two shares have the same index")
    if len(shares) != threshold:
        raise UnsealError(f"exactly {threshold} shares are needed, got {len(shares)}")
    if threshold == 1:
        return shares[0].data
    low = Shamir.combine([(share.index, share.data[:_HALF]) for share in shares])
    high = Shamir.combine([(share.index, share.data[_HALF:]) for share in shares])
    return bytes(low) + bytes(high)
