"""A fresh state dir, database and unsealed store for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gitberth.database import Database, open_database
from gitberth.secrets import crypto
from gitberth.secrets.store import SecretStore
from gitberth.secrets.store_keys import SEAL_MODE_AUTO
from gitberth.state import StateDir


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    return StateDir(tmp_path / "state")


@pytest.fixture
def db(state: StateDir) -> Iterator[Database]:
    database = open_database(state)
    yield database
    database.close()


@pytest.fixture
def master_b64() -> str:
    return crypto.MasterKey.generate().to_base64()


@pytest.fixture
def store(db: Database, master_b64: str) -> SecretStore:
    secret_store = SecretStore(db)
    secret_store.initialize(crypto.MasterKey.from_base64(master_b64), mode=SEAL_MODE_AUTO)
    return secret_store
