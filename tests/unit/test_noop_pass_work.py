"""A no-op pass at many apps does no per-app work beyond planning: it describes no spec it
has described before and works out no app state whose inputs did not change (real Git and
SQLite, a fake runtime). At 1,000 apps these were four fifths of a no-op pass."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitberth import pass_recorder
from gitberth.core.resolved import ResolvedService
from gitberth.core.sync_status import SyncState
from gitberth.database import open_database
from gitberth.loop import Loop, LoopSettings
from gitberth.spec_ledger import SpecLedger
from gitberth.state import StateDir
from gitberth.status import StatusStore
from tests.support.gitrepo import GitRepo, app_yaml
from tests.unit.fakes import FakeRuntime

APPS = 60


@pytest.fixture
def loop(git_repo: GitRepo, tmp_path: Path) -> Iterator[Loop]:
    git_repo.commit({f"apps/app-{i:03d}.yaml": app_yaml(f"app-{i:03d}") for i in range(APPS)})
    db = open_database(StateDir(tmp_path / "state"))
    made = Loop(
        settings=LoopSettings(repo=str(git_repo.path), state_dir=tmp_path / "state", watch=False),
        runtime=FakeRuntime(),
        status=StatusStore(db),
        known_specs=SpecLedger(db),
    )
    yield made
    db.close()


def counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Count calls of ``owner.name`` (still calling it)."""
    calls = [0]
    original: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_no_op_pass_describes_no_spec_and_works_out_no_app_state(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert loop.run_pass().outcome == "applied"
    described = counting(monkeypatch, ResolvedService, "describe")
    worked_out = counting(monkeypatch, pass_recorder, "app_standing")

    loop.trigger("docker: test")
    second = loop.run_pass()
    loop.trigger("docker: test")
    third = loop.run_pass()

    assert (second.outcome, third.outcome) == ("noop", "noop")
    # the first no-op pass checks each state once (the action had replaced it); the next none
    assert worked_out[0] == APPS
    assert described[0] == 0
    states = loop.status.apps()
    assert len(states) == APPS and all(s.sync is SyncState.SYNCED for s in states)


def test_a_state_an_engine_event_changed_is_worked_out_again(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop.run_pass()
    loop.run_pass()
    loop.status.mark_container("app-007", "app-007-1", state="exited")  # the event, at once
    worked_out = counting(monkeypatch, pass_recorder, "app_standing")

    loop.run_pass()  # the engine lists it running again: the pass must say so

    assert worked_out[0] == 1
    state = loop.status.app("app-007")
    assert state is not None and state.sync is SyncState.SYNCED
    assert [c.state for c in state.containers] == ["running"]


def test_the_ledger_writes_a_pass_worth_of_new_summaries_in_one_transaction(
    tmp_path: Path,
) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    ledger = SpecLedger(db)
    transactions = [0]
    original = db.transaction

    def counted() -> Any:
        transactions[0] += 1
        return original()

    db.transaction = counted  # type: ignore[method-assign]
    ledger.update({f"hash-{i}": {"image": f"web:{i}"} for i in range(100)})
    ledger.update({f"hash-{i}": {"image": f"web:{i}"} for i in range(100)})  # nothing new

    assert transactions[0] == 1
    assert SpecLedger(db)["hash-42"] == {"image": "web:42"}
    db.close()
