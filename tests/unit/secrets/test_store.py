"""The SQLite secret store: scopes, versions, materials, rotation, sealing and tampering."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gitberth.core.errors import (
    ConfigError,
    SealedError,
    SecretIntegrityError,
    SecretNotFoundError,
    UnsealError,
)
from gitberth.core.resolve import SecretMaterial
from gitberth.database import Database, open_database
from gitberth.secrets import crypto
from gitberth.secrets.store import SecretStore
from gitberth.secrets.store_keys import SEAL_MODE_AUTO
from gitberth.state import StateDir

SENTINEL = "sentinel-4f1c9a-never-on-disk"


def test_put_creates_then_replaces_per_name_and_scope(store: SecretStore) -> None:
    first = store.put(name="db", app_id=None, data={"URL": "a"})
    scoped = store.put(name="db", app_id="app1", data={"URL": "b"})
    again = store.put(name="db", app_id=None, data={"URL": "c", "USER": "u"})
    assert (first.created, scoped.created, again.created) == (True, True, False)
    assert again.info.version == 2
    listed = {(info.app_id, info.name): info.keys for info in store.list()}
    assert listed == {(None, "db"): ("URL", "USER"), ("app1", "db"): ("URL",)}
    assert [info.app_id for info in store.list(app_id="app1")] == ["app1"]


def test_materials_decrypt_existing_only_with_fingerprints(store: SecretStore) -> None:
    store.put(name="db", app_id=None, data={"URL": "shared-url"})
    store.put(name="db", app_id="app1", data={"URL": "app1-url"})
    found = store.materials([(None, "db"), ("app1", "db"), ("app2", "db"), (None, "nope")])
    assert set(found) == {(None, "db"), ("app1", "db")}
    material = found[("app1", "db")]
    assert isinstance(material, SecretMaterial)
    assert material.app_id == "app1"
    assert material.keys["URL"].value.get_secret_value() == "app1-url"
    assert material.keys["URL"].fingerprint == store.fingerprint("app1-url")
    assert "app1-url" not in repr(material)


def test_delete_by_scope(store: SecretStore) -> None:
    store.put(name="db", app_id=None, data={"URL": "a"})
    store.put(name="db", app_id="app1", data={"URL": "b"})
    store.delete(name="db", app_id="app1")
    assert [(i.app_id, i.name) for i in store.list()] == [(None, "db")]
    with pytest.raises(SecretNotFoundError):
        store.delete(name="db", app_id="app1")


def test_then_hook_runs_in_the_write_transaction(store: SecretStore) -> None:
    def fail(_: object) -> None:
        raise RuntimeError("audit failed")

    with pytest.raises(RuntimeError):
        store.put(name="db", app_id=None, data={"URL": "a"}, then=fail)
    assert store.list() == []


def test_sealed_store_refuses_values_but_lists_names(store: SecretStore) -> None:
    store.put(name="db", app_id=None, data={"URL": "a"})
    store.lock()
    assert store.sealed
    with pytest.raises(SealedError):
        store.materials([(None, "db")])
    with pytest.raises(SealedError):
        store.put(name="db", app_id=None, data={"URL": "b"})
    with pytest.raises(SealedError):
        store.fingerprint("x")
    assert [info.name for info in store.list()] == ["db"]


def test_unlock_with_right_key_and_refuse_wrong_one(store: SecretStore, master_b64: str) -> None:
    store.put(name="db", app_id=None, data={"URL": "a"})
    fingerprint = store.fingerprint("a")
    store.lock()
    with pytest.raises(UnsealError):
        store.unlock(crypto.MasterKey.generate())
    assert store.sealed
    store.unlock(crypto.MasterKey.from_base64(master_b64))
    assert store.materials([(None, "db")])[(None, "db")].keys["URL"].fingerprint == fingerprint


def test_restart_keeps_every_secret(state: StateDir, db: Database, master_b64: str) -> None:
    store = SecretStore(db)
    store.initialize(crypto.MasterKey.from_base64(master_b64), mode=SEAL_MODE_AUTO)
    for index in range(20):
        store.put(name=f"s{index}", app_id=None if index % 2 else "app", data={"K": str(index)})
    db.close()
    reopened = SecretStore(open_database(state))
    assert reopened.sealed
    reopened.unlock(crypto.MasterKey.from_base64(master_b64))
    wanted = [(None if i % 2 else "app", f"s{i}") for i in range(20)]
    found = reopened.materials(wanted)
    assert {key: m.keys["K"].value.get_secret_value() for key, m in found.items()} == {
        key: key[1][1:] for key in wanted
    }


def test_rotate_rewraps_everything_and_keeps_fingerprints(store: SecretStore) -> None:
    for index in range(450):
        store.put(name=f"s{index}", app_id=None, data={"K": f"v{index}"})
    before = store.materials([(None, "s7")])[(None, "s7")].keys["K"].fingerprint
    result = store.rotate()
    assert (result.term, result.rewrapped) == (2, 450)
    assert list(store.encryption_counts()) == [2]
    assert store.encryption_counts()[2] == 451
    after = store.materials([(None, "s7")])[(None, "s7")].keys["K"].fingerprint
    assert after == before


def test_rotation_survives_restart(state: StateDir, db: Database, master_b64: str) -> None:
    store = SecretStore(db)
    store.initialize(crypto.MasterKey.from_base64(master_b64), mode=SEAL_MODE_AUTO)
    store.put(name="db", app_id=None, data={"URL": "a"})
    store.rotate()
    store.rotate()
    db.close()
    reopened = SecretStore(open_database(state))
    reopened.unlock(crypto.MasterKey.from_base64(master_b64))
    assert reopened.materials([(None, "db")])[(None, "db")].keys["URL"].value.get_secret_value()


def test_interrupted_rotation_keeps_old_terms_readable(
    state: StateDir, db: Database, master_b64: str
) -> None:
    store = SecretStore(db)
    master = crypto.MasterKey.from_base64(master_b64)
    store.initialize(master, mode=SEAL_MODE_AUTO)
    store.put(name="db", app_id=None, data={"URL": "a"})
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO key_terms (term, wrapped, created_at) VALUES (2, ?, 'now')",
            (master.wrap_term_key(crypto.TermKey.generate(2)),),
        )
    store.lock()
    store.unlock(crypto.MasterKey.from_base64(master_b64))
    assert store.materials([(None, "db")])[(None, "db")].keys["URL"].value.get_secret_value() == "a"
    assert list(store.encryption_counts()) == [2]


def test_term_encryption_limit_starts_a_new_term(db: Database) -> None:
    store = SecretStore(db, max_term_encryptions=5)
    store.initialize(crypto.MasterKey.generate(), mode=SEAL_MODE_AUTO)
    for index in range(12):
        store.put(name=f"s{index}", app_id=None, data={"K": "v"})
    terms = store.encryption_counts()
    assert max(terms) >= 3
    assert all(count <= 5 + 12 for count in terms.values())
    assert len(store.materials([(None, f"s{i}") for i in range(12)])) == 12


def test_async_writes_start_a_new_term_at_the_limit_too(db: Database) -> None:
    store = SecretStore(db, max_term_encryptions=5)
    store.initialize(crypto.MasterKey.generate(), mode=SEAL_MODE_AUTO)

    async def write_all() -> None:
        for index in range(12):
            await store.put_async(name=f"s{index}", app_id=None, data={"K": "v"})

    asyncio.run(write_all())
    assert max(store.encryption_counts()) >= 3
    assert len(store.materials([(None, f"s{i}") for i in range(12)])) == 12


def test_a_write_reads_the_database_once_before_its_commit(store: SecretStore) -> None:
    """The term's count and the secret's latest version come from one read: on the event
    loop every SQLite call is a hand-over of the GIL to the committer thread and back."""
    store.put(name="db", app_id=None, data={"URL": "a"})
    reads: list[str] = []
    reader = store._db._reader
    assert reader is not None
    reader.set_trace_callback(reads.append)
    try:
        result = asyncio.run(store.put_async(name="db", app_id=None, data={"URL": "b"}))
    finally:
        reader.set_trace_callback(None)
    assert result.info.version == 2
    assert len(reads) == 1, reads


def test_initialize_twice_is_refused(store: SecretStore) -> None:
    with pytest.raises(ConfigError):
        store.initialize(crypto.MasterKey.generate(), mode=SEAL_MODE_AUTO)


def _records(db: Database) -> dict[tuple[str, str], bytes]:
    with db.reading() as conn:
        return {
            (row[0], row[1]): bytes(row[2])
            for row in conn.execute("SELECT app_id, name, record FROM secrets")
        }


def _set_record(db: Database, *, app_id: str, name: str, record: bytes) -> None:
    with db.transaction() as conn:
        conn.execute(
            "UPDATE secrets SET record = ? WHERE app_id = ? AND name = ?", (record, app_id, name)
        )


def test_ciphertext_moved_between_secrets_fails(store: SecretStore, db: Database) -> None:
    store.put(name="one", app_id=None, data={"K": "1"})
    store.put(name="two", app_id=None, data={"K": "2"})
    store.put(name="one", app_id="app1", data={"K": "3"})
    records = _records(db)
    _set_record(db, app_id="", name="two", record=records[("", "one")])
    _set_record(db, app_id="app1", name="one", record=records[("", "one")])
    for key in [(None, "two"), ("app1", "one")]:
        with pytest.raises(SecretIntegrityError) as caught:
            store.materials([key])
        assert "1" not in str(caught.value).replace("app1", "")
    assert store.materials([(None, "one")])


def test_truncated_and_flipped_records_fail(store: SecretStore, db: Database) -> None:
    store.put(name="one", app_id=None, data={"K": SENTINEL})
    record = _records(db)[("", "one")]
    for bad in (record[: len(record) // 2], record[:-1], b""):
        _set_record(db, app_id="", name="one", record=bad)
        with pytest.raises(SecretIntegrityError):
            store.materials([(None, "one")])
    flipped = bytearray(record)
    flipped[-5] ^= 0x01
    _set_record(db, app_id="", name="one", record=bytes(flipped))
    with pytest.raises(SecretIntegrityError) as caught:
        store.materials([(None, "one")])
    assert SENTINEL not in str(caught.value)


def test_key_names_column_is_authenticated(store: SecretStore, db: Database) -> None:
    store.put(name="one", app_id=None, data={"K": "1"})
    with db.transaction() as conn:
        conn.execute("UPDATE secrets SET keys = '[\"OTHER\"]'")
    with pytest.raises(SecretIntegrityError):
        store.materials([(None, "one")])


def test_no_plaintext_value_in_any_state_file(store: SecretStore, state: StateDir) -> None:
    for index in range(5):
        store.put(name=f"s{index}", app_id="app1", data={"TOKEN": f"{SENTINEL}-{index}"})
    store.put(name="s0", app_id="app1", data={"TOKEN": "replaced"})
    store.delete(name="s1", app_id="app1")
    store.rotate()
    for path in state.path.iterdir():
        assert SENTINEL.encode() not in path.read_bytes(), path


def test_seal_waits_for_in_flight_writes(store: SecretStore) -> None:
    errors: list[BaseException] = []
    written: list[str] = []

    def writer(index: int) -> None:
        try:
            store.put(name=f"s{index}", app_id=None, data={"K": "v"})
            written.append(f"s{index}")
        except SealedError:
            pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(40)]
    for thread in threads[:20]:
        thread.start()
    store.lock()
    for thread in threads[20:]:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(info.name for info in store.list()) == sorted(written)


def test_rotation_while_writes_are_in_flight_loses_nothing(store: SecretStore) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for index in range(40):
                store.put(name=f"w{worker}-{index}", app_id=None, data={"K": f"{worker}-{index}"})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        store.rotate()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(store.encryption_counts()) == [4]
    wanted = [(None, f"w{w}-{i}") for w in range(6) for i in range(40)]
    found = store.materials(wanted)
    assert len(found) == 240
    assert found[(None, "w3-7")].keys["K"].value.get_secret_value() == "3-7"


def test_put_async_shares_group_commits_and_audits_in_the_same_transaction(
    store: SecretStore, db: Database
) -> None:
    written: list[str] = []

    async def write_all() -> list[bool]:
        results = await asyncio.gather(
            *(
                store.put_async(
                    name=f"a{index % 30}",
                    app_id="app1",
                    data={"K": str(index)},
                    then=lambda result: written.append(result.info.name),
                )
                for index in range(60)
            )
        )
        return [result.created for result in results]

    created = asyncio.run(write_all())
    assert created.count(True) == 30 and len(written) == 60
    versions = {info.name: info.version for info in store.list(app_id="app1")}
    assert versions == {f"a{index}": 2 for index in range(30)}
    store.lock()
    with pytest.raises(SealedError):
        asyncio.run(store.put_async(name="x", app_id=None, data={"K": "v"}))
