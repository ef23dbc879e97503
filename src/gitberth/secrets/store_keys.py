"""The keys that protect the secret store, and their lifecycle: initialize, unseal, seal,
rotate and rekey.

Each record is encrypted under a data key wrapped by the current *term key*; term keys are
wrapped by the master key. The store is *sealed* until :meth:`StoreKeys.unlock` gets the master
key, and can be sealed again at any time with :meth:`StoreKeys.lock`. One lock serialises key
handling and writes, so sealing waits for in-flight operations to finish and later ones fail
cleanly with :class:`SealedError`. Rotation starts a new term and rewraps every record to it
in batches; writes still encrypting under an older term are counted in flight, so that term's
key is dropped only once nothing uses it. What is done with the keys (storing secrets) is
:mod:`gitberth.secrets.store`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gitberth.core.errors import ConfigError, SealedError, SecretIntegrityError
from gitberth.database import Database
from gitberth.secrets import crypto

MAX_TERM_ENCRYPTIONS = 2**30
"""Rotate before this many encryptions under one term key (NIST allows 2**32 random nonces)."""
_REWRAP_BATCH = 200

SEAL_MODE_AUTO = "auto"
SEAL_MODE_SHAMIR = "shamir"

_FINGERPRINT_IDENTITY = crypto.RecordIdentity(
    kind="meta", scope="store", app_id="", name="fingerprint-key"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS secret_meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS key_terms (
    term INTEGER PRIMARY KEY,
    wrapped BLOB NOT NULL,
    created_at TEXT NOT NULL,
    encryptions INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS secrets (
    app_id TEXT NOT NULL,
    name TEXT NOT NULL,
    keys TEXT NOT NULL,
    version INTEGER NOT NULL,
    term INTEGER NOT NULL,
    record BLOB NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, name)
);
CREATE INDEX IF NOT EXISTS secrets_by_term ON secrets (term);
CREATE TABLE IF NOT EXISTS secret_versions (
    app_id TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (app_id, name)
);
"""
_VERSIONS_COUNTED = "versions_counted"
"""secret_meta flag: the counters were seeded from the rows once (a store from before them)."""
_FORMAT_2_ONLY = "format_2_only"
"""secret_meta flag: every record was rewritten as format 2; format 1 is refused from then on."""


@dataclass(frozen=True)
class SealConfig:
    """How the store is unsealed: ``auto`` (key file) or ``shamir`` (threshold of shares)."""

    mode: str
    shares: int
    threshold: int


@dataclass(frozen=True)
class RotationResult:
    term: int
    rewrapped: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StoreKeys:
    """The store's keyring and fingerprint key, sealed or unsealed, over its tables."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Callable[[], str] = _now,
        max_term_encryptions: int = MAX_TERM_ENCRYPTIONS,
    ) -> None:
        self._db = db
        self._clock = clock
        self._max_term_encryptions = max_term_encryptions
        self._lock = threading.RLock()
        self._master: crypto.MasterKey | None = None
        self._keyring: crypto.Keyring | None = None
        self._fingerprint_key: bytearray | None = None
        self._in_flight: dict[int, int] = {}
        with db.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            if not _flag(conn, _VERSIONS_COUNTED):
                conn.execute(
                    "INSERT OR IGNORE INTO secret_versions (app_id, name, version) "
                    "SELECT app_id, name, version FROM secrets"
                )
                _set_flag(conn, _VERSIONS_COUNTED)

    def is_initialized(self) -> bool:
        with self._db.reading() as conn:
            return conn.execute("SELECT 1 FROM key_terms LIMIT 1").fetchone() is not None

    @property
    def sealed(self) -> bool:
        return self._keyring is None

    def seal_config(self) -> SealConfig | None:
        """How this store is unsealed, or ``None`` before it is initialized."""
        with self._db.reading() as conn:
            rows = dict(
                conn.execute(
                    "SELECT key, value FROM secret_meta WHERE key IN "
                    "('seal_mode', 'shares', 'threshold')"
                ).fetchall()
            )
        if "seal_mode" not in rows:
            return None
        return SealConfig(
            mode=str(rows["seal_mode"]),
            shares=int(rows["shares"]),
            threshold=int(rows["threshold"]),
        )

    def initialize(
        self, master: crypto.MasterKey, *, mode: str, shares: int = 1, threshold: int = 1
    ) -> None:
        """Create the first term key and the fingerprint key under *master*; leaves it unsealed."""
        with self._lock:
            term_key = crypto.TermKey.generate(1)
            keyring = crypto.Keyring({1: term_key})
            fingerprint_key = crypto.random_key()
            with self._db.transaction() as conn:
                if conn.execute("SELECT 1 FROM key_terms LIMIT 1").fetchone() is not None:
                    raise ConfigError("the secret store is already initialized")
                conn.execute(
                    "INSERT INTO key_terms (term, wrapped, created_at, encryptions) "
                    "VALUES (1, ?, ?, 1)",
                    (master.wrap_term_key(term_key), self._clock()),
                )
                blob = keyring.encrypt(
                    identity=_FINGERPRINT_IDENTITY, plaintext=bytes(fingerprint_key)
                )
                _set_flag(conn, _FORMAT_2_ONLY)
                conn.executemany(
                    "INSERT INTO secret_meta (key, value) VALUES (?, ?)",
                    [
                        ("seal_mode", mode),
                        ("shares", str(shares)),
                        ("threshold", str(threshold)),
                        ("fingerprint_key", blob),
                    ],
                )
            self._master, self._keyring, self._fingerprint_key = master, keyring, fingerprint_key

    def unlock(self, master: crypto.MasterKey) -> None:
        """Load the keyring with *master*; :class:`UnsealError` if it is not this store's key."""
        with self._lock:
            if self._keyring is not None:
                return
            with self._db.reading() as conn:
                rows = conn.execute("SELECT term, wrapped FROM key_terms ORDER BY term").fetchall()
                meta = conn.execute(
                    "SELECT value FROM secret_meta WHERE key = 'fingerprint_key'"
                ).fetchone()
            if not rows or meta is None:
                raise ConfigError("the secret store is not initialized")
            terms: dict[int, crypto.TermKey] = {}
            try:
                for term, wrapped in rows:
                    terms[int(term)] = master.unwrap_term_key(term=int(term), blob=bytes(wrapped))
                keyring = crypto.Keyring(terms)
                fingerprint_key = bytearray(
                    keyring.decrypt(
                        identity=_FINGERPRINT_IDENTITY,
                        blob=bytes(meta[0]),
                        allow_legacy=not self._format_2_only(),
                    )
                )
                self._migrate_legacy_records(keyring)
            except BaseException:
                for key in terms.values():
                    key.wipe()
                raise
            self._master, self._keyring, self._fingerprint_key = master, keyring, fingerprint_key
        try:
            self._rewrap_old_terms()
        except SealedError:
            return  # sealed again meanwhile; the next unseal finishes the interrupted rotation

    def lock(self) -> None:
        """Seal: overwrite and drop every key held in memory (waits for in-flight operations)."""
        with self._lock:
            if self._keyring is not None:
                self._keyring.wipe()
            if self._master is not None:
                self._master.wipe()
            if self._fingerprint_key is not None:
                for index in range(len(self._fingerprint_key)):
                    self._fingerprint_key[index] = 0
            self._master, self._keyring, self._fingerprint_key = None, None, None

    def rotate(self) -> RotationResult:
        """Start a new master key term and rewrap every data key and the fingerprint key.

        The fingerprint key itself does not change, so fingerprints (and the spec hashes built
        from them) stay stable and rotation restarts no consumer. Records are rewrapped in
        batches; until a record is rewrapped its old term key stays loaded, so it stays readable.
        """
        with self._lock:
            master, keyring = self._require_keys()
            new_key = crypto.TermKey.generate(keyring.current_term + 1)
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO key_terms (term, wrapped, created_at, encryptions) "
                    "VALUES (?, ?, ?, 0)",
                    (new_key.term, master.wrap_term_key(new_key), self._clock()),
                )
            keyring.add(new_key)
        return RotationResult(term=new_key.term, rewrapped=self._rewrap_old_terms())

    def rekey(
        self, new_master: crypto.MasterKey, *, mode: str, shares: int = 1, threshold: int = 1
    ) -> RotationResult:
        """Replace the master key: every term key is rewrapped under *new_master* and a new term
        starts under it, to which every data key is then rewrapped and after which the older
        term keys are deleted. The old master key (or its shares) unwraps nothing afterwards,
        and even an old copy of the database with the old key yields no key that wraps a
        record written from then on.
        """
        with self._lock:
            old_master, keyring = self._require_keys()
            new_key = crypto.TermKey.generate(keyring.current_term + 1)
            with self._db.transaction() as conn:
                terms = [int(row[0]) for row in conn.execute("SELECT term FROM key_terms")]
                for term in terms:
                    conn.execute(
                        "UPDATE key_terms SET wrapped = ? WHERE term = ?",
                        (new_master.wrap_term_key(keyring.key(term)), term),
                    )
                conn.execute(
                    "INSERT INTO key_terms (term, wrapped, created_at, encryptions) "
                    "VALUES (?, ?, ?, 0)",
                    (new_key.term, new_master.wrap_term_key(new_key), self._clock()),
                )
                conn.executemany(
                    "UPDATE secret_meta SET value = ? WHERE key = ?",
                    [(mode, "seal_mode"), (str(shares), "shares"), (str(threshold), "threshold")],
                )
            keyring.add(new_key)
            self._master = new_master
            old_master.wipe()
        return RotationResult(term=new_key.term, rewrapped=self._rewrap_old_terms())

    def encryption_counts(self) -> dict[int, int]:
        """Encryptions performed under each live term key."""
        with self._db.reading() as conn:
            return {
                int(term): int(count)
                for term, count in conn.execute("SELECT term, encryptions FROM key_terms")
            }

    def fingerprint(self, value: str) -> str:
        """Hex HMAC-SHA256 of *value* under the store's fingerprint key (stable across rotation)."""
        with self._lock:
            if self._fingerprint_key is None:
                raise SealedError()
            return crypto.hmac_hex(self._fingerprint_key, value)

    def _write_done(self, term: int) -> None:
        with self._lock:
            self._in_flight[term] -= 1

    def _format_2_only(self) -> bool:
        with self._db.reading() as conn:
            return _flag(conn, _FORMAT_2_ONLY)

    def _migrate_legacy_records(self, keyring: crypto.Keyring) -> None:
        """Rewrite every format 1 record (version not bound) as format 2, once, then refuse
        format 1 for good: a format 1 record seen later was put back from an older copy."""
        with self._db.transaction() as conn:
            if _flag(conn, _FORMAT_2_ONLY):
                return
            rows = conn.execute(
                "SELECT s.app_id, s.name, s.keys, s.record, s.version, v.version FROM secrets s "
                "LEFT JOIN secret_versions v ON v.app_id = s.app_id AND v.name = s.name"
            ).fetchall()
            rewritten = 0
            for app_id, name, keys, record, version, latest in rows:
                identity = record_identity(
                    name=str(name),
                    app_id=str(app_id) or None,
                    keys=tuple(json.loads(keys)),
                    version=int(version),
                )
                blob = bytes(record)
                if crypto.record_format_of(blob, identity=identity) != 1:
                    continue
                if latest is not None and int(latest) != int(version):
                    continue  # an older record put back: left to fail when it is read
                try:
                    plaintext = keyring.decrypt(identity=identity, blob=blob)
                except SecretIntegrityError:
                    continue  # tampered already: it fails when read, and holds only its apps
                conn.execute(
                    "UPDATE secrets SET record = ?, term = ? WHERE app_id = ? AND name = ?",
                    (
                        keyring.encrypt(identity=identity, plaintext=plaintext),
                        keyring.current_term,
                        app_id,
                        name,
                    ),
                )
                rewritten += 1
            meta = conn.execute(
                "SELECT value FROM secret_meta WHERE key = 'fingerprint_key'"
            ).fetchone()
            meta_blob = bytes(meta[0])
            if crypto.record_format_of(meta_blob, identity=_FINGERPRINT_IDENTITY) == 1:
                key = keyring.decrypt(identity=_FINGERPRINT_IDENTITY, blob=meta_blob)
                conn.execute(
                    "UPDATE secret_meta SET value = ? WHERE key = 'fingerprint_key'",
                    (keyring.encrypt(identity=_FINGERPRINT_IDENTITY, plaintext=key),),
                )
                rewritten += 1
            conn.execute(
                "UPDATE key_terms SET encryptions = encryptions + ? WHERE term = ?",
                (rewritten, keyring.current_term),
            )
            _set_flag(conn, _FORMAT_2_ONLY)

    def _require_keys(self) -> tuple[crypto.MasterKey, crypto.Keyring]:
        if self._master is None or self._keyring is None:
            raise SealedError()
        return self._master, self._keyring

    def _rewrap_old_terms(self) -> int:
        """Move every record off older terms in batches, then forget the older term keys."""
        rewrapped = 0
        while True:
            with self._lock:
                _, keyring = self._require_keys()
                current = keyring.current_term
                with self._db.transaction() as conn:
                    if rewrapped == 0:
                        self._rewrap_fingerprint_key(conn=conn, keyring=keyring)
                    rows = conn.execute(
                        "SELECT app_id, name, keys, record, version FROM secrets "
                        "WHERE term < ? LIMIT ?",
                        (current, _REWRAP_BATCH),
                    ).fetchall()
                    for app_id, name, keys, record, version in rows:
                        identity = record_identity(
                            name=str(name),
                            app_id=str(app_id) or None,
                            keys=tuple(json.loads(keys)),
                            version=int(version),
                        )
                        conn.execute(
                            "UPDATE secrets SET record = ?, term = ? WHERE app_id = ? AND name = ?",
                            (
                                keyring.rewrap(identity=identity, blob=bytes(record)),
                                current,
                                app_id,
                                name,
                            ),
                        )
                    conn.execute(
                        "UPDATE key_terms SET encryptions = encryptions + ? WHERE term = ?",
                        (len(rows), current),
                    )
                    writing_old_terms = any(
                        count for term, count in self._in_flight.items() if term < current
                    )
                    if not rows and not writing_old_terms:
                        old_terms = [term for term in keyring.terms if term < current]
                        conn.execute("DELETE FROM key_terms WHERE term < ?", (current,))
                        for term in old_terms:
                            keyring.drop(term)
                        return rewrapped
                rewrapped += len(rows)
            if not rows:
                time.sleep(0.001)

    def _rewrap_fingerprint_key(self, *, conn: sqlite3.Connection, keyring: crypto.Keyring) -> None:
        row = conn.execute("SELECT value FROM secret_meta WHERE key = 'fingerprint_key'").fetchone()
        blob = bytes(row[0])
        if crypto.record_term(blob, identity=_FINGERPRINT_IDENTITY) == keyring.current_term:
            return
        conn.execute(
            "UPDATE secret_meta SET value = ? WHERE key = 'fingerprint_key'",
            (keyring.rewrap(identity=_FINGERPRINT_IDENTITY, blob=blob),),
        )
        conn.execute(
            "UPDATE key_terms SET encryptions = encryptions + 1 WHERE term = ?",
            (keyring.current_term,),
        )


def record_identity(
    *, name: str, app_id: str | None, keys: tuple[str, ...], version: int
) -> crypto.RecordIdentity:
    return crypto.RecordIdentity(
        kind="secret",
        scope="app" if app_id else "shared",
        app_id=app_id or "",
        name=name,
        keys=keys,
        version=version,
    )


def _flag(conn: sqlite3.Connection, key: str) -> bool:
    return conn.execute("SELECT 1 FROM secret_meta WHERE key = ?", (key,)).fetchone() is not None


def _set_flag(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("INSERT OR IGNORE INTO secret_meta (key, value) VALUES (?, '1')", (key,))
