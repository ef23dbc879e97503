"""Shamir shares of the master key: any threshold of them rebuild it, fewer do not."""

from __future__ import annotations

import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitberth.core.errors import UnsealError
from gitberth.secrets import shamir


@settings(max_examples=25, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    shares=st.integers(min_value=2, max_value=7),
    data=st.data(),
)
def test_any_threshold_subset_rebuilds_the_key(
    key: bytes, shares: int, data: st.DataObject
) -> None:
    threshold = data.draw(st.integers(min_value=2, max_value=shares))
    parts = shamir.split(key, shares=shares, threshold=threshold)
    assert len(parts) == shares
    subset = data.draw(st.permutations(parts)).__getitem__(slice(threshold))
    assert shamir.combine(subset) == key


def test_every_subset_of_three_of_five() -> None:
    key = os.urandom(32)
    parts = shamir.split(key, shares=5, threshold=3)
    for subset in itertools.combinations(parts, 3):
        assert shamir.combine(list(subset)) == key


def test_fewer_than_threshold_shares_do_not_reveal_the_key() -> None:
    key = os.urandom(32)
    parts = shamir.split(key, shares=5, threshold=3)
    forged = shamir.Share(index=5, threshold=3, data=os.urandom(32))
    assert shamir.combine([parts[0], parts[1], forged]) != key
    with pytest.raises(UnsealError):
        shamir.combine(parts[:2])


def test_no_share_contains_a_half_of_the_key() -> None:
    key = os.urandom(32)
    for part in shamir.split(key, shares=3, threshold=2):
        assert key[:16] not in part.data and key[16:] not in part.data


def test_share_encoding_round_trip() -> None:
    part = shamir.split(os.urandom(32), shares=3, threshold=2)[2]
    assert shamir.Share.decode(part.encode()) == part
    assert shamir.looks_like_share(__import__("base64").b64decode(part.encode()))


@pytest.mark.parametrize("text", ["", "@@@", "QUFBQQ==", "R0sBAQI=" + "A" * 4])
def test_malformed_shares_are_refused(text: str) -> None:
    with pytest.raises(UnsealError):
        shamir.Share.decode(text)


def test_shares_from_different_splits_or_duplicates_are_refused() -> None:
    a = shamir.split(os.urandom(32), shares=3, threshold=2)
    b = shamir.split(os.urandom(32), shares=3, threshold=3)
    with pytest.raises(UnsealError):
        shamir.combine([a[0], b[1]])
    with pytest.raises(UnsealError):
        shamir.combine([a[0], a[0]])


@pytest.mark.parametrize(("shares", "threshold"), [(0, 1), (3, 0), (3, 4), (256, 2), (3, 1)])
def test_bad_split_parameters(shares: int, threshold: int) -> None:
    with pytest.raises(ValueError):
        shamir.validate_split(shares=shares, threshold=threshold)


def test_single_share_is_the_key() -> None:
    key = os.urandom(32)
    (part,) = shamir.split(key, shares=1, threshold=1)
    assert shamir.combine([part]) == key


# Shares printed by `gitberth init` must keep working across upgrades (of gitberth and of
# pycryptodome): this 3-of-5 split of bytes(range(32)) is pinned.
KNOWN_KEY = bytes(range(32))
KNOWN_SHARES = [
    "R0sBAQOpRaeNt+2d/aoaA3UlSES8QFdYrMhCYwtuGwaAB/cYjw==",
    "R0sBAgNNJECKLDTWkq/Dz5BM7PhfxP3FRACFCJS+kXxxjUFY3Q==",
    "R0sBAwPkYOUEn9xNaA3Qxu5lqbLslLuP+9zSfYjIk2DqlqteTQ==",
    "R0sBBAPk+6FAa+U6r8gv3KHEY2xraEm0H43O+f1/OKu8pIS8Ew==",
    "R0sBBQNNvwTO2A2hVWo81d/tJibYOA/+oFGZjOEJOrcnv266gw==",
]


def test_known_shares_still_combine_to_the_known_key() -> None:
    shares = [shamir.Share.decode(text) for text in KNOWN_SHARES]
    assert [(share.index, share.threshold) for share in shares] == [(i, 3) for i in range(1, 6)]
    for subset in itertools.combinations(shares, 3):
        assert shamir.combine(list(subset)) == KNOWN_KEY
