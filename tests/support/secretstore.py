"""A real, unsealed secret store in a temp state dir (SQLite + auto-unseal key file)."""

from __future__ import annotations

from pathlib import Path

from gitberth.database import Database, open_database
from gitberth.secrets.seal import open_default_setup
from gitberth.secrets.store import SecretStore
from gitberth.state import StateDir


def open_store(path: Path) -> tuple[SecretStore, Database]:
    """The store and its database (for the spec ledger that shares it)."""
    state = StateDir(path)
    state.ensure()
    db = open_database(state)
    store = SecretStore(db)
    open_default_setup(store, state=state)
    return store, db
