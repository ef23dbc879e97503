"""The secret store: encrypted named bags of key/values in SQLite, by name and scope.

A secret is identified by ``(appId, name)``: ``appId`` is ``None`` for a shared (org-wide)
secret, or the app name for an app-scoped one. The database holds only key names, versions,
timestamps and ciphertext (see :mod:`gitberth.secrets.crypto`); values exist in plaintext only in
memory, while a request or a resolution needs them.

Versions only go up: ``secret_versions`` keeps the highest version ever issued per name and
scope (a delete consumes one too), each record binds its version into its AAD, and a record
whose version is not that counter's was put back from an older copy and is refused
(:class:`SecretIntegrityError`), so a secret cannot be rolled back row by row.

What a secret may hold is :mod:`gitberth.secrets.validation`; the keys, sealing and rotation
are :mod:`gitberth.secrets.store_keys`. Writes go through the database's group commit; a
thread and a coroutine write through the same staging (:meth:`SecretStore._stage_put`) and
differ only in how they wait for the commit.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from gitberth.core.errors import SecretIntegrityError, SecretNotFoundError
from gitberth.core.resolve import SecretKey, SecretKeyMaterial, SecretMaterial
from gitberth.database import GroupedWrite
from gitberth.secrets import crypto
from gitberth.secrets.store_keys import StoreKeys, record_identity
from gitberth.secrets.validation import validate_secret


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a secret: never a value."""

    name: str
    app_id: str | None
    keys: tuple[str, ...]
    version: int
    updated_at: str


@dataclass(frozen=True)
class WriteResult:
    """The outcome of a write; ``fingerprints`` are HMACs of the values, for the audit log."""

    info: SecretInfo
    created: bool
    fingerprints: Mapping[str, str]


class SecretStore(StoreKeys):
    """Encrypted secrets by ``(appId, name)``, plus the keyring that protects them."""

    def put(
        self,
        *,
        name: str,
        app_id: str | None,
        data: Mapping[str, str],
        then: Callable[[WriteResult], None] | None = None,
    ) -> WriteResult:
        """Create or replace the secret *name* in scope *app_id* with a fresh data key.

        Encryption happens in the caller's thread; the row is then written by a group commit
        (:meth:`Database.submit`), so concurrent writes share one fsync. *then* runs inside
        the same transaction (on the committer thread): an audit record commits with the
        write or not at all.
        """
        due, latest = self._rotation_due(name=name, app_id=app_id, data=data)
        if due:
            self.rotate()
        return self._submit_put(
            name=name, app_id=app_id, data=data, latest=latest, then=then
        ).wait()

    async def put_async(
        self,
        *,
        name: str,
        app_id: str | None,
        data: Mapping[str, str],
        then: Callable[[WriteResult], None] | None = None,
    ) -> WriteResult:
        """:meth:`put` for the event loop: the same write, awaited instead of blocked on.

        Saves the HTTP route a thread hop per request; only a due rotation (once per
        ``MAX_TERM_ENCRYPTIONS`` writes) runs on a thread, as it rewraps every record.
        """
        due, latest = self._rotation_due(name=name, app_id=app_id, data=data)
        if due:
            await asyncio.to_thread(self.rotate)
        write = self._submit_put(
            name=name, app_id=app_id, data=data, latest=latest, then=then, from_loop=True
        )
        return await write.wait_async()

    def _rotation_due(
        self, *, name: str, app_id: str | None, data: Mapping[str, str]
    ) -> tuple[bool, int]:
        """Refuse an invalid secret, then say whether the term key must rotate first, and the
        secret's latest version (0 if none yet).

        Both come from one read: on the event loop each SQLite call hands the GIL over and
        waits to get it back from the committer thread, so a write makes as few as it can.
        A rotation does not change versions; a concurrent write's does, and the commit then
        re-encrypts for the version after it (:meth:`_prepare_put`).
        """
        validate_secret(name=name, app_id=app_id, data=data)
        with self._lock:
            _, keyring = self._require_keys()
            term = keyring.current_term
        with self._db.reading() as conn:
            encryptions, latest = conn.execute(
                "SELECT (SELECT encryptions FROM key_terms WHERE term = ?), "
                "(SELECT version FROM secret_versions WHERE app_id = ? AND name = ?)",
                (term, app_id or "", name),
            ).fetchone()
        return int(encryptions or 0) >= self._max_term_encryptions, int(latest or 0)

    def _submit_put(
        self,
        *,
        name: str,
        app_id: str | None,
        data: Mapping[str, str],
        latest: int,
        then: Callable[[WriteResult], None] | None,
        from_loop: bool = False,
    ) -> GroupedWrite[WriteResult]:
        """Encrypt and queue the write for the next group commit, counted in flight until that
        commit ends, even if its caller stops waiting: rotation must not drop the term it was
        encrypted under while it is queued."""
        write, term = self._prepare_put(
            name=name, app_id=app_id, data=data, version=latest + 1, then=then
        )
        try:
            pending = self._db.submit_from_loop(write) if from_loop else self._db.submit(write)
        except BaseException:
            self._write_done(term)
            raise
        pending.on_done(lambda: self._write_done(term))
        return pending

    def _prepare_put(
        self,
        *,
        name: str,
        app_id: str | None,
        data: Mapping[str, str],
        version: int,
        then: Callable[[WriteResult], None] | None,
    ) -> tuple[Callable[[sqlite3.Connection], WriteResult], int]:
        """Encrypt under the current term, for *version* (the next one, as last read), and
        count the write in flight until it is committed.

        The version is bound into the record, so it is read before; a concurrent write of the
        same name that commits first makes the commit re-encrypt for the version after it.
        """
        keys = tuple(sorted(data))
        plaintext = json.dumps(dict(data), separators=(",", ":"), sort_keys=True).encode()
        with self._lock:
            _, keyring = self._require_keys()
            assert self._fingerprint_key is not None
            fingerprints = {
                key: crypto.hmac_hex(self._fingerprint_key, value) for key, value in data.items()
            }
            identity = record_identity(name=name, app_id=app_id, keys=keys, version=version)
            record = keyring.encrypt(identity=identity, plaintext=plaintext)
            term = keyring.current_term
            self._in_flight[term] = self._in_flight.get(term, 0) + 1
        now = self._clock()

        def write(conn: sqlite3.Connection) -> WriteResult:
            nonlocal record, version
            latest = _latest_version(conn, name=name, app_id=app_id)
            written_term = term
            if latest + 1 != version:
                version = latest + 1
                identity = record_identity(name=name, app_id=app_id, keys=keys, version=version)
                record = keyring.encrypt(identity=identity, plaintext=plaintext)
                written_term = crypto.record_term(record, identity=identity)
            existed = (
                conn.execute(
                    "SELECT 1 FROM secrets WHERE app_id = ? AND name = ?", (app_id or "", name)
                ).fetchone()
                is not None
            )
            conn.execute(
                "INSERT INTO secrets (app_id, name, keys, version, term, record, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (app_id, name) DO UPDATE SET "
                "keys = excluded.keys, version = excluded.version, term = excluded.term, "
                "record = excluded.record, updated_at = excluded.updated_at",
                (app_id or "", name, json.dumps(keys), version, written_term, record, now),
            )
            _set_latest_version(conn, name=name, app_id=app_id, version=version)
            conn.execute(
                "UPDATE key_terms SET encryptions = encryptions + 1 WHERE term = ?",
                (written_term,),
            )
            result = WriteResult(
                info=SecretInfo(
                    name=name, app_id=app_id, keys=keys, version=version, updated_at=now
                ),
                created=not existed,
                fingerprints=fingerprints,
            )
            if then is not None:
                then(result)
            return result

        return write, term

    def delete(
        self,
        *,
        name: str,
        app_id: str | None,
        then: Callable[[SecretInfo], None] | None = None,
    ) -> SecretInfo:
        """Delete one secret; :class:`SecretNotFoundError` if that name+scope does not exist."""

        def remove(conn: sqlite3.Connection) -> SecretInfo:
            row = conn.execute(
                "SELECT keys, version, updated_at FROM secrets WHERE app_id = ? AND name = ?",
                (app_id or "", name),
            ).fetchone()
            if row is None:
                raise SecretNotFoundError(f"no secret {name} in scope {_scope_text(app_id)}")
            conn.execute("DELETE FROM secrets WHERE app_id = ? AND name = ?", (app_id or "", name))
            # A delete consumes a version: the deleted record, put back, would be behind.
            _set_latest_version(conn, name=name, app_id=app_id, version=int(row[1]) + 1)
            info = SecretInfo(
                name=name,
                app_id=app_id,
                keys=tuple(json.loads(row[0])),
                version=int(row[1]),
                updated_at=str(row[2]),
            )
            if then is not None:
                then(info)
            return info

        return self._db.grouped(remove)

    def exists(self, *, name: str, app_id: str | None) -> bool:
        """Whether the secret *name* exists in scope *app_id* (``None``: shared)."""
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT 1 FROM secrets WHERE app_id = ? AND name = ?", (app_id or "", name)
            ).fetchone()
        return row is not None

    def list(self, *, app_id: str | None = None) -> list[SecretInfo]:
        """Every secret (names and key names), or only those scoped to *app_id*."""
        query = "SELECT app_id, name, keys, version, updated_at FROM secrets"
        params: tuple[str, ...] = ()
        if app_id is not None:
            query += " WHERE app_id = ?"
            params = (app_id,)
        with self._db.reading() as conn:
            rows = conn.execute(query + " ORDER BY name, app_id", params).fetchall()
        return [
            SecretInfo(
                name=str(name),
                app_id=str(scope) or None,
                keys=tuple(json.loads(keys)),
                version=int(version),
                updated_at=str(updated_at),
            )
            for scope, name, keys, version, updated_at in rows
        ]

    def materials(self, keys: Iterable[SecretKey]) -> dict[SecretKey, SecretMaterial]:
        """Decrypt the requested ``(appId, name)`` secrets that exist; absent ones are left out.

        Raises :class:`SealedError` when sealed and :class:`SecretIntegrityError` when a record
        does not decrypt.
        """
        wanted = list(dict.fromkeys(keys))
        found: dict[SecretKey, SecretMaterial] = {}
        with self._lock:
            _, keyring = self._require_keys()
            assert self._fingerprint_key is not None
            allow_legacy = not self._format_2_only()
            for app_id, name in wanted:
                with self._db.reading() as conn:
                    row = conn.execute(
                        "SELECT s.keys, s.record, s.version, v.version FROM secrets s "
                        "LEFT JOIN secret_versions v ON v.app_id = s.app_id AND v.name = s.name "
                        "WHERE s.app_id = ? AND s.name = ?",
                        (app_id or "", name),
                    ).fetchone()
                if row is None:
                    continue
                key_names = tuple(json.loads(row[0]))
                identity = record_identity(
                    name=name, app_id=app_id, keys=key_names, version=int(row[2])
                )
                if row[3] is None or int(row[2]) != int(row[3]):
                    raise SecretIntegrityError(
                        f"secret {name} ({_scope_text(app_id)}) is version {row[2]}, but version "
                        f"{row[3]} was written since: an older record was put back"
                    )
                values = _decode_payload(
                    keyring.decrypt(
                        identity=identity, blob=bytes(row[1]), allow_legacy=allow_legacy
                    ),
                    identity=identity,
                )
                found[(app_id, name)] = SecretMaterial(
                    name=name,
                    app_id=app_id,
                    keys={
                        key: SecretKeyMaterial(
                            value=SecretStr(value),
                            fingerprint=crypto.hmac_hex(self._fingerprint_key, value),
                        )
                        for key, value in sorted(values.items())
                    },
                )
        return found


def _latest_version(conn: sqlite3.Connection, *, name: str, app_id: str | None) -> int:
    row = conn.execute(
        "SELECT version FROM secret_versions WHERE app_id = ? AND name = ?", (app_id or "", name)
    ).fetchone()
    return 0 if row is None else int(row[0])


def _set_latest_version(
    conn: sqlite3.Connection, *, name: str, app_id: str | None, version: int
) -> None:
    conn.execute(
        "INSERT INTO secret_versions (app_id, name, version) VALUES (?, ?, ?) "
        "ON CONFLICT (app_id, name) DO UPDATE SET version = max(version, excluded.version)",
        (app_id or "", name, version),
    )


def _scope_text(app_id: str | None) -> str:
    return "shared" if app_id is None else f"app {app_id}"


def _decode_payload(plaintext: bytes, *, identity: crypto.RecordIdentity) -> dict[str, str]:
    try:
        values = json.loads(plaintext)
    except ValueError:
        raise SecretIntegrityError(f"secret {identity.name} has an unreadable payload") from None
    if not isinstance(values, dict) or tuple(sorted(values)) != identity.keys:
        raise SecretIntegrityError(f"secret {identity.name} does not hold its listed keys")
    return {str(key): str(value) for key, value in values.items()}
