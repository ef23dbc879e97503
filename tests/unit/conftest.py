"""Unit tests need no engine: each one runs with ``DOCKER_HOST`` pointing nowhere, so a test
that reaches for Docker fails here, not only on a machine without one (``make unit``)."""

from __future__ import annotations

import pytest

NO_ENGINE = "unix:///nonexistent/unit-tests-use-no-engine.sock"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
