"""The audit log: who did what to which secret, and when, without ever holding a value.

Each secrets, token, deploy and admin call leaves one entry: time, token id, action, secret
name, scope, key names, outcome and, for writes, an HMAC of each value under the store's
fingerprint key. The HMAC lets an auditor tell whether two writes set the same value, and
reveals nothing else. ``detail`` holds other facts that are never secret (a token's role and
expiry, a deploy's revision). Entries live in the same SQLite database, so a write and its
audit entry commit together.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NotRequired, TypedDict, Unpack

from gitberth.core.timestamps import utc_text
from gitberth.database import Database
from gitberth.secrets.tokens import TokenInfo

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    token_id TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    name TEXT,
    app_id TEXT,
    keys TEXT NOT NULL,
    value_hmacs TEXT NOT NULL
)
"""
_ADD_DETAIL = "ALTER TABLE audit_log ADD COLUMN detail TEXT NOT NULL DEFAULT '{}'"
MAX_ENTRIES_PER_READ = 1000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    token_id: str
    action: str
    outcome: str
    name: str | None
    app_id: str | None
    keys: tuple[str, ...]
    value_hmacs: Mapping[str, str] = field(default_factory=dict)
    detail: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at,
            "tokenId": self.token_id,
            "action": self.action,
            "outcome": self.outcome,
            "name": self.name,
            "scope": "shared" if self.app_id is None else "app",
            "appId": self.app_id,
            "keys": list(self.keys),
            "valueHmacs": dict(self.value_hmacs),
            "detail": dict(self.detail),
        }


class EntryFields(TypedDict):
    """What one entry says, as keyword arguments; only who and what are required."""

    token_id: str
    action: str
    outcome: NotRequired[str]
    """``ok`` unless said otherwise (``forbidden``, ``not_found``, ...)."""
    name: NotRequired[str | None]
    app_id: NotRequired[str | None]
    keys: NotRequired[Sequence[str]]
    value_hmacs: NotRequired[Mapping[str, str] | None]
    detail: NotRequired[Mapping[str, str] | None]


class AuditLog:
    """Appends and reads audit entries."""

    def __init__(self, db: Database) -> None:
        self._db = db
        with db.transaction() as conn:
            conn.execute(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(audit_log)")}
            if "detail" not in columns:
                conn.execute(_ADD_DETAIL)

    def record(self, **entry: Unpack[EntryFields]) -> None:
        """Append one entry durably.

        Inside a transaction on this thread (a secret write) it joins that transaction; alone it
        shares a group commit with concurrent writers.
        """
        self._db.grouped(appender(**entry))

    async def record_async(self, **entry: Unpack[EntryFields]) -> None:
        """:meth:`record` for the event loop: the same entry, the group commit awaited."""
        await self._db.grouped_async(appender(**entry))

    def entries(self, *, limit: int = 100, before: int | None = None) -> list[AuditEntry]:
        """The newest entries first, at most *limit*, optionally older than entry id *before*."""
        limit = max(1, min(limit, MAX_ENTRIES_PER_READ))
        query = (
            "SELECT id, at, token_id, action, outcome, name, app_id, keys, value_hmacs, detail "
            "FROM audit_log"
        )
        params: tuple[int, ...] = (limit,)
        if before is not None:
            query += " WHERE id < ?"
            params = (before, limit)
        with self._db.reading() as conn:
            rows = conn.execute(query + " ORDER BY id DESC LIMIT ?", params).fetchall()
        return [
            AuditEntry(
                id=int(row[0]),
                at=str(row[1]),
                token_id=str(row[2]),
                action=str(row[3]),
                outcome=str(row[4]),
                name=row[5],
                app_id=row[6],
                keys=tuple(json.loads(row[7])),
                value_hmacs=json.loads(row[8]),
                detail=json.loads(row[9]),
            )
            for row in rows
        ]


def appender(**entry: Unpack[EntryFields]) -> Callable[[sqlite3.Connection], None]:
    """The insert of one entry, stamped now: for a group commit (:meth:`AuditLog.record`) or
    to run inside another write's transaction (a token's)."""
    at = utc_text(datetime.now(UTC), precision="milliseconds")
    row = (
        at,
        entry["token_id"],
        entry["action"],
        entry.get("outcome", "ok"),
        entry.get("name"),
        entry.get("app_id"),
        json.dumps(list(entry.get("keys", ()))),
        json.dumps(dict(entry.get("value_hmacs") or {}), sort_keys=True),
        json.dumps(dict(entry.get("detail") or {}), sort_keys=True),
    )

    def append(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO audit_log (at, token_id, action, outcome, name, app_id, keys, "
            "value_hmacs, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )

    return append


def token_entry(
    *, actor: str, action: str
) -> Callable[[TokenInfo], Callable[[sqlite3.Connection], None]]:
    """The audit entry of a token created or revoked by *actor*: id, role, app, grants, expiry."""

    def build(info: TokenInfo) -> Callable[[sqlite3.Connection], None]:
        detail = {"role": info.role.value}
        if info.expires_at is not None:
            detail["expiresAt"] = info.expires_at
        return appender(
            token_id=actor,
            action=action,
            name=info.id,
            app_id=info.app,
            keys=info.shared_secrets,
            detail=detail,
        )

    return build
