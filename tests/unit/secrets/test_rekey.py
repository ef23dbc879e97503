"""``rekey`` replaces the master key: the old key file or old shares unseal nothing afterwards,
every secret still decrypts under the new one, and a rekey interrupted before the key file was
replaced is finished at the next start."""

from __future__ import annotations

import pytest

from gitberth.core.errors import ConfigError, UnsealError
from gitberth.database import Database
from gitberth.secrets import crypto, shamir
from gitberth.secrets.seal import initialize_shamir, open_default_setup, rekey
from gitberth.secrets.store import SecretStore
from gitberth.state import StateDir

SENTINEL = "sentinel-rekey-61fa-never-on-disk"


def read_value(store: SecretStore) -> str:
    found = store.materials([("app1", "db")])[("app1", "db")]
    return found.keys["URL"].value.get_secret_value()


@pytest.fixture
def auto_store(db: Database, state: StateDir) -> SecretStore:
    store = SecretStore(db)
    open_default_setup(store, state=state)
    store.put(name="db", app_id="app1", data={"URL": SENTINEL})
    store.rotate()
    return store


def test_a_new_key_file_replaces_the_old_one_which_unseals_nothing(
    auto_store: SecretStore, db: Database, state: StateDir
) -> None:
    old_key = state.master_key_path.read_text()
    fingerprint = auto_store.fingerprint(SENTINEL)
    result = rekey(auto_store, state=state)
    assert (result.mode, result.new_shares) == ("auto", ())
    new_key = state.master_key_path.read_text()
    assert new_key != old_key
    assert read_value(auto_store) == SENTINEL
    assert not state.master_key_path.with_name("master.key.new").exists()

    auto_store.lock()
    reopened = SecretStore(db)
    with pytest.raises(UnsealError):
        reopened.unlock(crypto.MasterKey.from_base64(old_key))
    assert open_default_setup(reopened, state=state).startswith("unsealed")
    assert read_value(reopened) == SENTINEL
    assert reopened.fingerprint(SENTINEL) == fingerprint, "spec hashes stay stable"
    assert list(reopened.encryption_counts()) == [result.term]


def test_rekey_to_shares_deletes_the_key_file_and_old_shares_are_useless(
    db: Database, state: StateDir
) -> None:
    store = SecretStore(db)
    old_parts = initialize_shamir(store, state=state, shares=3, threshold=2)
    store.unlock(crypto.MasterKey(shamir.combine(old_parts[:2])))
    store.put(name="db", app_id="app1", data={"URL": SENTINEL})

    result = rekey(store, state=state, shares=5, threshold=3)
    assert (result.mode, result.shares, result.threshold) == ("shamir", 5, 3)
    assert len(result.new_shares) == 5
    store.lock()
    with pytest.raises(UnsealError):
        store.unlock(crypto.MasterKey(shamir.combine(old_parts[:2])))
    store.unlock(crypto.MasterKey(shamir.combine(list(result.new_shares[2:]))))
    assert read_value(store) == SENTINEL
    seal = store.seal_config()
    assert seal is not None and (seal.mode, seal.shares, seal.threshold) == ("shamir", 5, 3)

    back = rekey(store, state=state, mode="auto")
    assert back.mode == "auto" and state.master_key_path.exists()
    store.lock()
    with pytest.raises(UnsealError):
        store.unlock(crypto.MasterKey(shamir.combine(list(result.new_shares[:3]))))


def test_auto_to_shamir_removes_the_key_file(auto_store: SecretStore, state: StateDir) -> None:
    result = rekey(auto_store, state=state, mode="shamir", shares=2, threshold=2)
    assert not state.master_key_path.exists()
    auto_store.lock()
    auto_store.unlock(crypto.MasterKey(shamir.combine(list(result.new_shares))))
    assert read_value(auto_store) == SENTINEL


@pytest.mark.parametrize(
    "bad",
    [
        {"mode": "shamir"},
        {"mode": "shamir", "shares": 2, "threshold": 3},
        {"mode": "auto", "shares": 3},
        {"mode": "vault"},
    ],
)
def test_impossible_setups_are_refused_and_change_nothing(
    auto_store: SecretStore, state: StateDir, bad: dict[str, object]
) -> None:
    before = state.master_key_path.read_text()
    with pytest.raises(ConfigError):
        rekey(auto_store, state=state, **bad)  # type: ignore[arg-type]
    assert state.master_key_path.read_text() == before
    assert read_value(auto_store) == SENTINEL


def test_a_rekey_interrupted_before_the_key_file_was_replaced_is_finished_at_start(
    auto_store: SecretStore, db: Database, state: StateDir
) -> None:
    new_master = crypto.MasterKey.generate()
    pending = state.master_key_path.with_name("master.key.new")
    new_key = new_master.to_base64()
    pending.write_text(new_key + "\n")
    auto_store.rekey(new_master, mode="auto")  # the database has the new key; the file not yet
    auto_store.lock()

    reopened = SecretStore(db)
    message = open_default_setup(reopened, state=state)
    assert "interrupted rekey" in message
    assert state.master_key_path.read_text().strip() == new_key
    assert not pending.exists()
    assert read_value(reopened) == SENTINEL
