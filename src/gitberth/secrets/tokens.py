"""Bearer tokens: who may call the API, with which role, for which app.

A token is ``gbt_<id>_<secret>``: the id is public (it names the token in the audit log), the
secret is 256 random bits. Only the SHA-256 of the whole token is stored; with that much entropy
a slow password hash would add latency and no security. Comparison is constant-time, and an
unknown id still costs one comparison so timing does not tell ids apart.

Roles:

* ``admin``: everything, including seal, rotate and the audit log;
* ``deployer``: secrets (and later deploys); with ``--app NAME`` only that app's scoped secrets.

``GITBERTH_TOKEN``, when set at server start, is accepted as an admin token with id ``env``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from gitberth.core.errors import AuthError, ConfigError
from gitberth.core.models import DNS_LABEL_PATTERN
from gitberth.state import Database

TOKEN_PREFIX = "gbt"
ENV_TOKEN_ID = "env"
_MAX_TOKEN_CHARS = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    sha256 BLOB NOT NULL,
    role TEXT NOT NULL,
    app TEXT,
    created_at TEXT NOT NULL
)
"""


class Role(StrEnum):
    ADMIN = "admin"
    DEPLOYER = "deployer"


@dataclass(frozen=True)
class Principal:
    """The caller behind a valid token."""

    token_id: str
    role: Role
    app: str | None = None

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


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenStore:
    """Issues tokens and authenticates bearer tokens against their stored hashes."""

    def __init__(self, db: Database, *, env_token: str | None = None) -> None:
        self._db = db
        self._env_digest = _digest(env_token) if env_token else None
        with db.transaction() as conn:
            conn.execute(_SCHEMA)

    def create(self, *, role: Role, app: str | None = None) -> tuple[str, Principal]:
        """A new token (shown once to the caller) and the principal it stands for."""
        if app is not None:
            if role is not Role.DEPLOYER:
                raise ConfigError("only deployer tokens can be scoped to an app")
            if len(app) > 63 or re.fullmatch(DNS_LABEL_PATTERN, app) is None:
                raise ConfigError("the app name must be a DNS label")
        token_id = secrets.token_hex(6)
        token = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        created_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO api_tokens (id, sha256, role, app, created_at) VALUES (?, ?, ?, ?, ?)",
                (token_id, _digest(token), role.value, app, created_at),
            )
        return token, Principal(token_id=token_id, role=role, app=app)

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
                "SELECT sha256, role, app FROM api_tokens WHERE id = ?", (token_id,)
            ).fetchone()
        stored = bytes(row[0]) if row is not None else bytes(len(presented))
        if not hmac.compare_digest(presented, stored) or row is None:
            raise AuthError("unknown token")
        return Principal(token_id=token_id, role=Role(row[1]), app=row[2])


def _token_id(token: str) -> str:
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0] == TOKEN_PREFIX:
        return parts[1]
    return ""
