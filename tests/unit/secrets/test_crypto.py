"""Envelope encryption: round trips, and every tampering fails with SecretIntegrityError."""

from __future__ import annotations

import pytest

from gitberth.core.errors import SecretIntegrityError, UnsealError
from gitberth.secrets import crypto

IDENTITY = crypto.RecordIdentity(kind="secret", scope="shared", app_id="", name="db", keys=("A",))
PLAINTEXT = b'{"A":"value"}'


def keyring(term: int = 1) -> crypto.Keyring:
    return crypto.Keyring({term: crypto.TermKey.generate(term)})


def test_round_trip_and_fresh_data_key_every_time() -> None:
    ring = keyring()
    first = ring.encrypt(identity=IDENTITY, plaintext=PLAINTEXT)
    second = ring.encrypt(identity=IDENTITY, plaintext=PLAINTEXT)
    assert ring.decrypt(identity=IDENTITY, blob=first) == PLAINTEXT
    assert first != second
    assert PLAINTEXT not in first


def test_header_carries_format_version_and_term() -> None:
    blob = keyring(term=7).encrypt(identity=IDENTITY, plaintext=PLAINTEXT)
    assert blob[:4] == crypto.RECORD_MAGIC + bytes([crypto.RECORD_FORMAT_VERSION])
    assert crypto.record_term(blob, identity=IDENTITY) == 7


@pytest.mark.parametrize(
    "other",
    [
        crypto.RecordIdentity(kind="secret", scope="shared", app_id="", name="db2", keys=("A",)),
        crypto.RecordIdentity(kind="secret", scope="app", app_id="app1", name="db", keys=("A",)),
        crypto.RecordIdentity(kind="secret", scope="shared", app_id="", name="db", keys=("B",)),
        crypto.RecordIdentity(kind="meta", scope="shared", app_id="", name="db", keys=("A",)),
    ],
    ids=["other-name", "other-scope", "other-keys", "other-kind"],
)
def test_ciphertext_moved_to_another_identity_fails(other: crypto.RecordIdentity) -> None:
    ring = keyring()
    blob = ring.encrypt(identity=IDENTITY, plaintext=PLAINTEXT)
    with pytest.raises(SecretIntegrityError) as caught:
        ring.decrypt(identity=other, blob=blob)
    assert "value" not in str(caught.value)


def test_every_bit_flip_fails() -> None:
    ring = keyring()
    blob = ring.encrypt(identity=IDENTITY, plaintext=PLAINTEXT)
    for index in range(len(blob)):
        for bit in (0, 7):
            tampered = bytearray(blob)
            tampered[index] ^= 1 << bit
            with pytest.raises(SecretIntegrityError):
                ring.decrypt(identity=IDENTITY, blob=bytes(tampered))


@pytest.mark.parametrize("keep", [0, 3, 8, 20, 68, 80, -1])
def test_truncated_record_fails(keep: int) -> None:
    ring = keyring()
    blob = ring.encrypt(identity=IDENTITY, plaintext=PLAINTEXT)
    with pytest.raises(SecretIntegrityError):
        ring.decrypt(identity=IDENTITY, blob=blob[:keep])


def test_wrong_term_key_fails() -> None:
    blob = keyring().encrypt(identity=IDENTITY, plaintext=PLAINTEXT)
    with pytest.raises(SecretIntegrityError):
        keyring().decrypt(identity=IDENTITY, blob=blob)
    with pytest.raises(SecretIntegrityError, match="term 1"):
        keyring(term=2).decrypt(identity=IDENTITY, blob=blob)


def test_rewrap_moves_record_to_current_term_and_keeps_data() -> None:
    ring = keyring(term=1)
    blob = ring.encrypt(identity=IDENTITY, plaintext=PLAINTEXT)
    ring.add(crypto.TermKey.generate(2))
    rewrapped = ring.rewrap(identity=IDENTITY, blob=blob)
    assert crypto.record_term(rewrapped, identity=IDENTITY) == 2
    assert rewrapped[-len(PLAINTEXT) - 16 :] == blob[-len(PLAINTEXT) - 16 :]
    ring.drop(1)
    assert ring.decrypt(identity=IDENTITY, blob=rewrapped) == PLAINTEXT
    with pytest.raises(SecretIntegrityError):
        ring.decrypt(identity=IDENTITY, blob=blob)


def test_master_key_wraps_term_keys_and_refuses_a_wrong_one() -> None:
    master = crypto.MasterKey.generate()
    term_key = crypto.TermKey.generate(3)
    wrapped = master.wrap_term_key(term_key)
    assert master.unwrap_term_key(term=3, blob=wrapped).raw() == term_key.raw()
    with pytest.raises(UnsealError):
        master.unwrap_term_key(term=4, blob=wrapped)
    with pytest.raises(UnsealError):
        crypto.MasterKey.generate().unwrap_term_key(term=3, blob=wrapped)


def test_master_key_base64_round_trip_and_bad_input() -> None:
    master = crypto.MasterKey.generate()
    again = crypto.MasterKey.from_base64(master.to_base64() + "\n")
    assert again.raw() == master.raw()
    for bad in ("not base64!", "AAAA", ""):
        with pytest.raises(UnsealError):
            crypto.MasterKey.from_base64(bad)


def test_wipe_zeroes_keys_and_drops_aead() -> None:
    master = crypto.MasterKey.generate()
    term_key = crypto.TermKey.generate(1)
    ring = crypto.Keyring({1: term_key})
    master.wipe()
    ring.wipe()
    assert master.raw() == bytes(32)
    assert term_key.raw() == bytes(32)
    with pytest.raises(Exception, match="sealed"):
        master.wrap_term_key(crypto.TermKey.generate(2))


def test_hmac_is_keyed_and_stable() -> None:
    key = bytes(range(32))
    assert crypto.hmac_hex(key, "v") == crypto.hmac_hex(key, "v")
    assert crypto.hmac_hex(key, "v") != crypto.hmac_hex(bytes(32), "v")
    assert len(crypto.hmac_hex(key, "v")) == 64


# Records written today must stay readable after upgrades: a term key wrapped by a known master
# key, and a record under that term key, both pinned (format version 1).
KNOWN_WRAPPED_TERM_KEY = bytes.fromhex(
    "26035c94ff3676ca9b133bddb67bfbcc5f4dd11fdae0b2d5e7c84dab36bd9b395053ba84a07af55a98875031"
    "9f45abb21d0975ce3a1b0a54f3bd1f65"
)
KNOWN_RECORD = bytes.fromhex(
    "474253010000000189d89c76ab6fa08d1892ff0322da11f212647ab4c292b9a3e10cb6e9c2b7b765c4eaf729"
    "dd2670aa0a697f12b65b93f6745cea7877b8718174b973e3fc40d8ec1f6aec3dea9d8decd2e5a792ba00c78b"
    "d2fbf3be4f7a715b8e877d642ab1923a8a35be8331be2eb371680da2084eddc4c46f3e03c2c5a003"
)


def test_known_format_1_record_still_decrypts() -> None:
    master = crypto.MasterKey(bytes(range(32)))
    term_key = master.unwrap_term_key(term=1, blob=KNOWN_WRAPPED_TERM_KEY)
    assert term_key.raw() == bytes(range(32, 64))
    identity = crypto.RecordIdentity(
        kind="secret", scope="app", app_id="app1", name="db", keys=("URL",)
    )
    plaintext = crypto.Keyring({1: term_key}).decrypt(identity=identity, blob=KNOWN_RECORD)
    assert plaintext == b'{"URL":"postgres://u:p@host/db"}'
