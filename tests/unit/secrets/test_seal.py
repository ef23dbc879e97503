"""The seal state machine: shares, duplicates, wrong keys, expiry, rate limit, start-up."""

from __future__ import annotations

import pytest

from gitberth.core.errors import ConfigError, RateLimitedError, UnsealError
from gitberth.database import Database, open_database
from gitberth.secrets import crypto, shamir
from gitberth.secrets.seal import SealManager, initialize_shamir, open_default_setup
from gitberth.secrets.store import SecretStore
from gitberth.state import StateDir


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shamir_store(db: Database, state: StateDir) -> tuple[SecretStore, list[shamir.Share]]:
    store = SecretStore(db)
    parts = initialize_shamir(store, state=state, shares=5, threshold=3)
    return store, parts


def test_threshold_of_shares_unseals(
    shamir_store: tuple[SecretStore, list[shamir.Share]], clock: Clock
) -> None:
    store, parts = shamir_store
    manager = SealManager(store, clock=clock)
    assert manager.status().as_json() == {
        "sealed": True,
        "initialized": True,
        "threshold": 3,
        "shares": 5,
        "progress": 0,
    }
    assert manager.unseal(parts[4].encode()).progress == 1
    assert manager.unseal(parts[4].encode()).progress == 1, "a duplicate share is ignored"
    assert manager.unseal(parts[0].encode()).progress == 2
    status = manager.unseal(parts[2].encode())
    assert (status.sealed, status.progress) == (False, 0)
    store.put(name="db", app_id=None, data={"K": "v"})


def test_wrong_share_resets_progress(
    shamir_store: tuple[SecretStore, list[shamir.Share]], clock: Clock
) -> None:
    store, parts = shamir_store
    manager = SealManager(store, clock=clock)
    manager.unseal(parts[0].encode())
    manager.unseal(parts[1].encode())
    forged = shamir.Share(index=3, threshold=3, data=bytes(32))
    with pytest.raises(UnsealError):
        manager.unseal(forged.encode())
    assert manager.status().progress == 0
    assert manager.status().sealed
    for part in parts[2:]:
        manager.unseal(part.encode())
    assert not manager.status().sealed


@pytest.mark.parametrize(
    "text",
    ["garbage!", "QUFBQQ==", crypto.MasterKey.generate().to_base64()],
    ids=["not-base64", "too-short", "another-key"],  # stable ids: parallel workers agree
)
def test_malformed_or_wrong_key_resets_progress(
    shamir_store: tuple[SecretStore, list[shamir.Share]], clock: Clock, text: str
) -> None:
    store, parts = shamir_store
    manager = SealManager(store, clock=clock)
    manager.unseal(parts[0].encode())
    with pytest.raises(UnsealError):
        manager.unseal(text)
    assert manager.status().progress == 0


def test_share_of_another_split_is_refused(
    shamir_store: tuple[SecretStore, list[shamir.Share]], clock: Clock
) -> None:
    store, _ = shamir_store
    manager = SealManager(store, clock=clock)
    other = shamir.split(bytes(32), shares=5, threshold=2)[0]
    with pytest.raises(UnsealError, match="does not belong"):
        manager.unseal(other.encode())


def test_partial_progress_expires(
    shamir_store: tuple[SecretStore, list[shamir.Share]], clock: Clock
) -> None:
    store, parts = shamir_store
    manager = SealManager(store, clock=clock, progress_ttl=600)
    manager.unseal(parts[0].encode())
    clock.now += 599
    assert manager.status().progress == 1
    clock.now += 2
    assert manager.status().progress == 0


def test_attempts_are_rate_limited(
    shamir_store: tuple[SecretStore, list[shamir.Share]], clock: Clock
) -> None:
    store, parts = shamir_store
    manager = SealManager(store, clock=clock, max_attempts=3, attempt_window=60)
    for _ in range(3):
        with pytest.raises(UnsealError):
            manager.unseal("bad")
    with pytest.raises(RateLimitedError) as caught:
        manager.unseal(parts[0].encode())
    assert 0 < caught.value.retry_after <= 60
    clock.now += 61
    assert manager.unseal(parts[0].encode()).progress == 1


def test_whole_master_key_unseals_and_seal_wipes(db: Database, clock: Clock) -> None:
    store = SecretStore(db)
    master = crypto.MasterKey.generate()
    key_text = master.to_base64()
    store.initialize(master, mode="auto")
    manager = SealManager(store, clock=clock)
    assert manager.seal().sealed
    assert master.raw() == bytes(32), "sealing overwrote the key in memory"
    assert not manager.unseal(key_text).sealed
    assert not manager.unseal(key_text).sealed, "unsealing an unsealed store is a no-op"


def test_unseal_before_init_is_a_config_error(db: Database, clock: Clock) -> None:
    with pytest.raises(ConfigError):
        SealManager(SecretStore(db), clock=clock).unseal(crypto.MasterKey.generate().to_base64())


def test_default_setup_creates_key_file_then_auto_unseals(state: StateDir) -> None:
    db = open_database(state)
    store = SecretStore(db)
    assert "created" in open_default_setup(store, state=state)
    assert state.master_key_path.stat().st_mode & 0o777 == 0o600
    store.put(name="db", app_id=None, data={"K": "v"})
    db.close()
    db = open_database(state)
    store = SecretStore(db)
    assert "unsealed" in open_default_setup(store, state=state)
    assert not store.sealed
    db.close()


def test_default_setup_stays_sealed_without_or_with_a_wrong_key_file(state: StateDir) -> None:
    db = open_database(state)
    open_default_setup(SecretStore(db), state=state)
    db.close()
    state.master_key_path.unlink()
    db = open_database(state)
    store = SecretStore(db)
    assert "missing" in open_default_setup(store, state=state)
    assert store.sealed
    state.master_key_path.write_text(crypto.MasterKey.generate().to_base64())
    assert "does not unseal" in open_default_setup(store, state=state)
    assert store.sealed
    db.close()


def test_shamir_store_starts_sealed_and_init_refuses_twice(
    shamir_store: tuple[SecretStore, list[shamir.Share]], state: StateDir
) -> None:
    store, _ = shamir_store
    assert store.sealed
    assert not state.master_key_path.exists()
    assert "sealed" in open_default_setup(store, state=state)
    with pytest.raises(ConfigError, match="already initialized"):
        initialize_shamir(store, state=state, shares=3, threshold=2)


def test_init_refuses_an_auto_state_dir(state: StateDir) -> None:
    db = open_database(state)
    state.master_key_path.parent.mkdir(parents=True, exist_ok=True)
    state.master_key_path.write_text("x")
    with pytest.raises(ConfigError, match="auto-unseal"):
        initialize_shamir(SecretStore(db), state=state, shares=3, threshold=2)
    db.close()
