"""A secret cannot be rolled back by putting an older record back into its row.

Each record binds its version into its AAD, and the store keeps the highest version issued per
name and scope (deletes included): a record behind that counter, or one whose version column
was edited to match it, is an integrity error. Stores written before (format 1) are rewritten
as format 2 at their first unseal, and format 1 is refused after that.
"""

from __future__ import annotations

import json
import os
import struct
import threading

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gitberth.core.errors import SecretIntegrityError
from gitberth.database import Database
from gitberth.secrets import crypto
from gitberth.secrets.store import SecretStore
from gitberth.secrets.store_keys import SEAL_MODE_AUTO
from tests.unit.secrets.test_crypto import KNOWN_RECORD, KNOWN_WRAPPED_TERM_KEY

SENTINEL_OLD = "sentinel-old-value-3c1d"
SENTINEL_NEW = "sentinel-new-value-8e2a"


def row(db: Database, name: str, app_id: str | None = None) -> tuple[bytes, int, str, int]:
    with db.reading() as conn:
        record, version, keys, term = conn.execute(
            "SELECT record, version, keys, term FROM secrets WHERE app_id = ? AND name = ?",
            (app_id or "", name),
        ).fetchone()
    return bytes(record), int(version), str(keys), int(term)


def put_back(db: Database, name: str, saved: tuple[bytes, int, str, int], **edits: int) -> None:
    record, version, keys, term = saved
    with db.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO secrets (app_id, name, keys, version, term, record, "
            "updated_at) VALUES ('', ?, ?, ?, ?, ?, 'x')",
            (name, keys, edits.get("version", version), term, record),
        )


def value(store: SecretStore, name: str) -> str:
    material = store.materials([(None, name)])[(None, name)]
    return material.keys["URL"].value.get_secret_value()


def test_an_older_record_put_back_is_refused(store: SecretStore, db: Database) -> None:
    store.put(name="db", app_id=None, data={"URL": SENTINEL_OLD})
    old = row(db, "db")
    store.put(name="db", app_id=None, data={"URL": SENTINEL_NEW})
    put_back(db, "db", old)
    with pytest.raises(SecretIntegrityError) as caught:
        store.materials([(None, "db")])
    assert "older record was put back" in str(caught.value)
    assert SENTINEL_OLD not in str(caught.value)


def test_an_older_record_with_its_version_edited_does_not_decrypt(
    store: SecretStore, db: Database
) -> None:
    store.put(name="db", app_id=None, data={"URL": SENTINEL_OLD})
    old = row(db, "db")
    store.put(name="db", app_id=None, data={"URL": SENTINEL_NEW})
    put_back(db, "db", old, version=2)
    with pytest.raises(SecretIntegrityError):
        store.materials([(None, "db")])


def test_a_deleted_secret_put_back_is_refused_and_a_new_one_goes_on_counting(
    store: SecretStore, db: Database
) -> None:
    store.put(name="db", app_id=None, data={"URL": SENTINEL_OLD})
    old = row(db, "db")
    store.delete(name="db", app_id=None)
    put_back(db, "db", old)
    with pytest.raises(SecretIntegrityError):
        store.materials([(None, "db")])
    with db.transaction() as conn:
        conn.execute("DELETE FROM secrets")
    again = store.put(name="db", app_id=None, data={"URL": SENTINEL_NEW})
    assert again.created and again.info.version == 3
    assert value(store, "db") == SENTINEL_NEW


def test_versions_survive_rotation_and_reopening(
    store: SecretStore, db: Database, master_b64: str
) -> None:
    store.put(name="db", app_id=None, data={"URL": SENTINEL_OLD})
    store.put(name="db", app_id=None, data={"URL": SENTINEL_NEW})
    store.rotate()
    reopened = SecretStore(db)
    reopened.unlock(crypto.MasterKey.from_base64(master_b64))
    assert value(reopened, "db") == SENTINEL_NEW
    assert row(db, "db")[1] == 2


def _legacy_record(
    term_key: crypto.TermKey, identity: crypto.RecordIdentity, plaintext: bytes
) -> bytes:
    """A record as gitberth wrote it before versions were bound (format 1, term 1)."""
    header = struct.pack(">3sBI", b"GBS", 1, 1)
    data_key = os.urandom(32)
    wrap_nonce, data_nonce = os.urandom(12), os.urandom(12)
    wrapped = AESGCM(term_key.raw()).encrypt(
        wrap_nonce, data_key, identity.aad(header, record_format=1)
    )
    sealed = AESGCM(data_key).encrypt(
        data_nonce, plaintext, identity.aad(b"GBS\x01", record_format=1)
    )
    return header + wrap_nonce + wrapped + data_nonce + sealed


@pytest.fixture
def legacy_db(db: Database) -> Database:
    """A store as written by the previous release: the pinned format 1 record of the crypto
    tests, under the pinned term key, with no version counters."""
    master = crypto.MasterKey(bytes(range(32)))
    term_key = master.unwrap_term_key(term=1, blob=KNOWN_WRAPPED_TERM_KEY)
    fingerprint = _legacy_record(
        term_key,
        crypto.RecordIdentity(kind="meta", scope="store", app_id="", name="fingerprint-key"),
        bytes(32),
    )
    SecretStore(db)  # creates today's tables; the rows below are yesterday's
    with db.transaction() as conn:
        conn.execute("DELETE FROM secret_meta")
        conn.execute("DELETE FROM secret_versions")
        conn.executemany(
            "INSERT INTO secret_meta (key, value) VALUES (?, ?)",
            [("seal_mode", SEAL_MODE_AUTO), ("shares", "1"), ("threshold", "1")],
        )
        conn.execute(
            "INSERT INTO secret_meta (key, value) VALUES ('fingerprint_key', ?)", (fingerprint,)
        )
        conn.execute(
            "INSERT INTO key_terms (term, wrapped, created_at, encryptions) VALUES (1, ?, 'x', 2)",
            (KNOWN_WRAPPED_TERM_KEY,),
        )
        conn.execute(
            "INSERT INTO secrets (app_id, name, keys, version, term, record, updated_at) "
            "VALUES ('app1', 'db', ?, 4, 1, ?, 'x')",
            (json.dumps(["URL"]), KNOWN_RECORD),
        )
    return db


def test_a_format_1_store_is_rewritten_at_its_first_unseal_and_format_1_refused_after(
    legacy_db: Database,
) -> None:
    store = SecretStore(legacy_db)
    store.unlock(crypto.MasterKey(bytes(range(32))))
    found = store.materials([("app1", "db")])[("app1", "db")]
    assert found.keys["URL"].value.get_secret_value() == "postgres://u:p@host/db"
    with legacy_db.reading() as conn:
        record, version = conn.execute(
            "SELECT record, version FROM secrets WHERE name = 'db'"
        ).fetchone()
    assert bytes(record)[3] == crypto.RECORD_FORMAT_VERSION and version == 4
    with legacy_db.transaction() as conn:
        conn.execute("UPDATE secrets SET record = ? WHERE name = 'db'", (KNOWN_RECORD,))
    with pytest.raises(SecretIntegrityError) as caught:
        store.materials([("app1", "db")])
    assert "format 1" in str(caught.value)
    assert store.put(name="db", app_id="app1", data={"URL": "next"}).info.version == 5


def test_racing_writes_of_one_name_each_get_their_own_version(store: SecretStore) -> None:
    results = []

    def write(index: int) -> None:
        results.append(store.put(name="db", app_id=None, data={"URL": f"v{index}"}))

    threads = [threading.Thread(target=write, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(result.info.version for result in results) == list(range(1, 21))
    last = max(results, key=lambda result: result.info.version)
    assert store.list()[0].version == 20
    assert value(store, "db") == next(
        f"v{i}" for i in range(20) if store.fingerprint(f"v{i}") == last.fingerprints["URL"]
    )
