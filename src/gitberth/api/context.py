"""What every route and background task of the server shares, built once at start-up.

The HTTP routes and the reconcile loop get the store, the seal manager, tokens and the audit
log from one :class:`ServerContext` held on ``app.state.context``. Whoever needs to react
to secret changes (the reconciler restarts consumers) appends to
:attr:`ServerContext.on_secrets_changed`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gitberth.database import Database, open_database
from gitberth.defaults import DEFAULT_HOST, DEFAULT_PORT, TOKEN_ENV
from gitberth.secrets.audit import AuditLog
from gitberth.secrets.seal import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PROGRESS_TTL,
    SealManager,
    open_default_setup,
)
from gitberth.secrets.store import SecretStore
from gitberth.secrets.tokens import TokenStore
from gitberth.state import StateDir

logger = logging.getLogger(__name__)

SecretsChangedCallback = Callable[[str, str | None], None]
"""Called with ``(name, appId or None)`` after a secret was written or deleted.

It may run on the event loop thread (writes) or a worker thread (deletes): keep it quick and
thread-safe, e.g. set a flag or wake a loop, never reconcile inline."""


@dataclass(frozen=True)
class ServerSettings:
    """How ``gitberth serve`` was started."""

    state_dir: Path
    repo: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    unseal_progress_ttl: float = DEFAULT_PROGRESS_TTL
    unseal_max_attempts: int = DEFAULT_MAX_ATTEMPTS


@dataclass
class ServerContext:
    """The server's shared state; one per process."""

    settings: ServerSettings
    db: Database
    store: SecretStore
    seal: SealManager
    tokens: TokenStore
    audit: AuditLog
    startup_message: str = ""
    on_secrets_changed: list[SecretsChangedCallback] = field(default_factory=list)

    def secrets_changed(self, *, name: str, app_id: str | None) -> None:
        """Tell every subscriber; a failing subscriber is logged and never fails the write."""
        for callback in list(self.on_secrets_changed):
            try:
                callback(name, app_id)
            except Exception as exc:
                logger.error(
                    "on_secrets_changed callback %s failed with %s",
                    getattr(callback, "__qualname__", repr(callback)),
                    type(exc).__name__,
                )

    def close(self) -> None:
        """Seal (wipe keys) and close the database."""
        self.store.lock()
        self.db.close()


def open_context(settings: ServerSettings, *, env_token: str | None = None) -> ServerContext:
    """Open the state dir, create or load the keys, and unseal when the setup allows it.

    *env_token* defaults to ``$GITBERTH_TOKEN``; it is accepted as an admin token.
    """
    state = StateDir.resolve(settings.state_dir)
    db = open_database(state)
    store = SecretStore(db)
    message = open_default_setup(store, state=state)
    state.tighten_permissions()
    token = env_token if env_token is not None else os.environ.get(TOKEN_ENV) or None
    return ServerContext(
        settings=settings,
        db=db,
        store=store,
        seal=SealManager(
            store,
            progress_ttl=settings.unseal_progress_ttl,
            max_attempts=settings.unseal_max_attempts,
        ),
        tokens=TokenStore(db, env_token=token),
        audit=AuditLog(db),
        startup_message=message,
    )
