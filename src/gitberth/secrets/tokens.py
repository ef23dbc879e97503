"""Bearer tokens: who may call the API, with which role, for which app.

A token is ``gbt_<id>_<secret>``: the id is public (it names the token in the audit log), the
secret is 256 random bits. Only the SHA-256 of the whole token is stored; with that much entropy
a slow password hash would add latency and no security. Comparison is constant-time, and an
unknown id still costs one comparison so timing does not tell ids apart.

Roles:

* ``admin``: everything, including seal, rotate, rekey, tokens and the audit log;
* ``deployer``: secrets and deploys. With ``--app NAME`` it is confined to that app: only that
  app's scoped secrets, only that app's status, events and metrics, and deploys of that app
  only, which may use shared secrets only when they were granted at creation
  (``--shared-secret NAME``, repeatable).

A token may expire (``--ttl``): an expired one is refused with ``401 token_expired``. Tokens
can be listed (never the token or its hash) and revoked; the time each was last used is kept
to the minute (written in the background, at most once a minute per token, so authentication
never waits for a disk write).

``GITBERTH_TOKEN``, when set at server start, is accepted as an admin token with id ``env``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from gitberth.core.errors import AuthError, ConfigError, TokenNotFoundError
from gitberth.core.field_types import is_dns_label
from gitberth.core.timestamps import utc_text
from gitberth.database import Database

TOKEN_PREFIX = "gbt"
ENV_TOKEN_ID = "env"
_MAX_TOKEN_CHARS = 256
LAST_USED_RESOLUTION = 60.0
"""Seconds: a token's last use is written at most this often."""
MAX_TTL = timedelta(days=3650)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    sha256 BLOB NOT NULL,
    role TEXT NOT NULL,
    app TEXT,
    created_at TEXT NOT NULL
)
"""
_ADDED_COLUMNS = {
    "expires_at": "ALTER TABLE api_tokens ADD COLUMN expires_at TEXT",
    "last_used_at": "ALTER TABLE api_tokens ADD COLUMN last_used_at TEXT",
    "shared_secrets": "ALTER TABLE api_tokens ADD COLUMN shared_secrets TEXT NOT NULL DEFAULT '[]'",
}
_TTL = re.compile(r"([1-9][0-9]{0,6})([smhdw])")
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_ttl(text: str) -> timedelta:
    """``90s``, ``30m``, ``12h``, ``30d`` or ``2w`` as a duration (at most ten years)."""
    match = _TTL.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"--ttl {text!r} is not a duration like 30m, 12h, 30d or 2w")
    ttl = timedelta(seconds=int(match[1]) * _TTL_UNITS[match[2]])
    if ttl > MAX_TTL:
        raise ConfigError("--ttl is at most ten years")
    return ttl


def _parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Role(StrEnum):
    ADMIN = "admin"
    DEPLOYER = "deployer"


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid token."""

    token_id: str
    role: Role
    app: str | None = None
    shared_secrets: frozenset[str] = field(default_factory=frozenset)
    """Shared secrets an app-scoped deployer was granted for its deploys."""

    @property
    def is_confined(self) -> bool:
        """An app-scoped token: it sees and acts on its own app only."""
        return self.app is not None

    def may_see_app(self, app: str) -> bool:
        return self.app is None or self.app == app

    def require_shared_secrets(self, names: Sequence[str]) -> None:
        """An app-scoped deployer may deploy with shared secrets only when granted (403)."""
        if self.app is None:
            return
        ungranted = sorted(set(names) - self.shared_secrets)
        if ungranted:
            raise AuthError(
                f"this token may not use shared secret(s) {', '.join(ungranted)}: create it with "
                "--shared-secret NAME to grant them",
                forbidden=True,
            )

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_use_scope(self, app_id: str | None) -> bool:
        """Whether this caller may read or write secrets of scope *app_id* (``None``: shared)."""
        if self.app is None:
            return True
        return app_id == self.app

    def require_admin(self) -> None:
        if not self.is_admin:
            raise AuthError("this needs an admin token", forbidden=True)

    def require_app(self, app: str) -> None:
        """Deploying *app* needs an admin token, an unscoped deployer, or one scoped to *app*."""
        if self.app is not None and self.app != app:
            raise AuthError(f"this token may only deploy app {self.app}", forbidden=True)

    def require_scope(self, app_id: str | None) -> None:
        if not self.may_use_scope(app_id):
            raise AuthError(
                f"this token may only use secrets scoped to app {self.app}", forbidden=True
            )


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown about a token: never the token or its hash."""

    id: str
    role: Role
    app: str | None
    shared_secrets: tuple[str, ...]
    created_at: str
    expires_at: str | None
    last_used_at: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "role": self.role.value,
            "app": self.app,
            "sharedSecrets": list(self.shared_secrets),
            "createdAt": self.created_at,
            "expiresAt": self.expires_at,
            "lastUsedAt": self.last_used_at,
        }


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenStore:
    """Issues, lists and revokes tokens, and authenticates bearer tokens by their hashes."""

    def __init__(
        self,
        db: Database,
        *,
        env_token: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._db = db
        self._env_digest = _digest(env_token) if env_token else None
        self._clock = clock
        self._last_use_written: dict[str, float] = {}
        self._last_use_lock = threading.Lock()
        with db.transaction() as conn:
            conn.execute(_SCHEMA)
            present = {row[1] for row in conn.execute("PRAGMA table_info(api_tokens)")}
            for column, statement in _ADDED_COLUMNS.items():
                if column not in present:
                    conn.execute(statement)

    def create(
        self,
        *,
        role: Role,
        app: str | None = None,
        ttl: timedelta | None = None,
        shared_secrets: Sequence[str] = (),
    ) -> tuple[str, Principal]:
        """A new token (shown once to the caller) and the principal it stands for."""
        info, token = self._new(role=role, app=app, ttl=ttl, shared_secrets=shared_secrets)
        principal = Principal(
            token_id=info.id, role=role, app=app, shared_secrets=frozenset(info.shared_secrets)
        )
        return token, principal

    def issue(
        self,
        *,
        role: Role,
        app: str | None = None,
        ttl: timedelta | None = None,
        shared_secrets: Sequence[str] = (),
        then: Callable[[TokenInfo], Callable[[sqlite3.Connection], None]] | None = None,
    ) -> tuple[TokenInfo, str]:
        """Like :meth:`create`, returning what ``token list`` shows; *then* builds work (the
        audit entry) committed in the same transaction as the new token."""
        return self._new(role=role, app=app, ttl=ttl, shared_secrets=shared_secrets, then=then)

    def _new(
        self,
        *,
        role: Role,
        app: str | None,
        ttl: timedelta | None,
        shared_secrets: Sequence[str],
        then: Callable[[TokenInfo], Callable[[sqlite3.Connection], None]] | None = None,
    ) -> tuple[TokenInfo, str]:
        if app is not None:
            if role is not Role.DEPLOYER:
                raise ConfigError("only deployer tokens can be scoped to an app")
            if not is_dns_label(app):
                raise ConfigError("the app name must be a DNS label")
        if shared_secrets and app is None:
            raise ConfigError(
                "--shared-secret grants are for app-scoped deployer tokens (--app); "
                "other tokens may use every shared secret"
            )
        for name in shared_secrets:
            if not is_dns_label(name):
                raise ConfigError("a shared secret name must be a DNS label")
        if ttl is not None and (ttl <= timedelta(0) or ttl > MAX_TTL):
            raise ConfigError("the ttl must be positive and at most ten years")
        token_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        now = self._clock()
        info = TokenInfo(
            id=token_id,
            role=role,
            app=app,
            shared_secrets=tuple(sorted(set(shared_secrets))),
            created_at=utc_text(now),
            expires_at=utc_text(now + ttl) if ttl is not None else None,
            last_used_at=None,
        )
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO api_tokens (id, sha256, role, app, created_at, expires_at, "
                "shared_secrets) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token_id,
                    _digest(token),
                    role.value,
                    app,
                    info.created_at,
                    info.expires_at,
                    json.dumps(list(info.shared_secrets)),
                ),
            )
            if then is not None:
                then(info)(conn)
        return info, token

    def list(self) -> list[TokenInfo]:
        """Every token, oldest first; never the token or its hash."""
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT id, role, app, shared_secrets, created_at, expires_at, last_used_at "
                "FROM api_tokens ORDER BY created_at, id"
            ).fetchall()
        return [_info(row) for row in rows]

    def revoke(
        self,
        token_id: str,
        *,
        then: Callable[[TokenInfo], Callable[[sqlite3.Connection], None]] | None = None,
    ) -> TokenInfo:
        """Delete a token for good: it is refused from the next request on (404 if unknown)."""
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT id, role, app, shared_secrets, created_at, expires_at, last_used_at "
                "FROM api_tokens WHERE id = ?",
                (token_id,),
            ).fetchone()
            if row is None:
                raise TokenNotFoundError(f"no token with id {token_id[:32]}")
            conn.execute("DELETE FROM api_tokens WHERE id = ?", (token_id,))
            info = _info(row)
            if then is not None:
                then(info)(conn)
        return info

    def authenticate(self, token: str | None) -> Principal:
        """The principal for *token*; :class:`AuthError` (401) when it is missing or unknown."""
        if not token:
            raise AuthError("missing bearer token")
        if len(token) > _MAX_TOKEN_CHARS:
            raise AuthError("unknown token")
        presented = _digest(token)
        if self._env_digest is not None and hmac.compare_digest(presented, self._env_digest):
            return Principal(token_id=ENV_TOKEN_ID, role=Role.ADMIN)
        token_id = _token_id(token)
        with self._db.reading() as conn:
            row = conn.execute(
                "SELECT sha256, role, app, expires_at, shared_secrets FROM api_tokens WHERE id = ?",
                (token_id,),
            ).fetchone()
        stored = bytes(row[0]) if row is not None else bytes(len(presented))
        if not hmac.compare_digest(presented, stored) or row is None:
            raise AuthError("unknown token")
        now = self._clock()
        if row[3] is not None and _parse_timestamp(str(row[3])) <= now:
            raise AuthError(f"token {token_id} expired at {row[3]}", code="token_expired")
        self._note_use(token_id, at=now)
        return Principal(
            token_id=token_id,
            role=Role(row[1]),
            app=row[2],
            shared_secrets=frozenset(json.loads(row[4] or "[]")),
        )

    def _note_use(self, token_id: str, *, at: datetime) -> None:
        """Queue the last-use time (at most once a minute per token), without waiting."""
        tick = time.monotonic()
        with self._last_use_lock:
            previous = self._last_use_written.get(token_id)
            if previous is not None and tick - previous < LAST_USED_RESOLUTION:
                return
            self._last_use_written[token_id] = tick
        stamp = utc_text(at)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (stamp, token_id))

        self._db.enqueue(write)


def _info(row: Sequence[object]) -> TokenInfo:
    return TokenInfo(
        id=str(row[0]),
        role=Role(str(row[1])),
        app=None if row[2] is None else str(row[2]),
        shared_secrets=tuple(json.loads(str(row[3] or "[]"))),
        created_at=str(row[4]),
        expires_at=None if row[5] is None else str(row[5]),
        last_used_at=None if row[6] is None else str(row[6]),
    )


def _token_id(token: str) -> str:
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0] == TOKEN_PREFIX:
        return parts[1]
    return ""
