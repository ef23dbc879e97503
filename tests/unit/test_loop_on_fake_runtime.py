"""The loop's decisions without an engine: a real Git repo and SQLite, a fake runtime.

Triggers that arrive during a pass coalesce into one follow-up pass; an app whose actions
fail backs off until its spec changes; an engine that does not answer is retried with backoff;
a crash the engine reports is healed; the engine coming back wakes a pass that re-reads Git;
an app held by a missing secret holds only itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from gitberth.core.sync_status import SyncState
from gitberth.database import open_database
from gitberth.loop import Loop, LoopSettings
from gitberth.runtime.base import RuntimeEvent
from gitberth.state import StateDir
from gitberth.status import StatusStore
from gitberth.triggers import PassRequest
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until
from tests.unit.fakes import FakeRuntime


class LoopFactory(Protocol):
    def __call__(self, *, start: bool = ..., **overrides: Any) -> Loop: ...


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime()


@pytest.fixture
def make_loop(git_repo: GitRepo, tmp_path: Path, runtime: FakeRuntime) -> Iterator[LoopFactory]:
    db = open_database(StateDir(tmp_path / "state"))
    loops: list[Loop] = []

    def make(*, start: bool = False, **overrides: Any) -> Loop:
        settings: dict[str, Any] = {
            "repo": str(git_repo.path),
            "state_dir": tmp_path / "state",
            "interval": 300.0,
            "retry_base": 0.2,
            "retry_max": 1.0,
            "app_backoff_base": 30.0,
            "watch": False,
            **overrides,
        }
        loop = Loop(settings=LoopSettings(**settings), runtime=runtime, status=StatusStore(db))
        loops.append(loop)
        if start:
            loop.start()
        return loop

    yield make
    for loop in loops:
        loop.stop(timeout=10)
    db.close()


def test_triggers_during_a_pass_coalesce_into_one_follow_up_pass(
    git_repo: GitRepo, make_loop: LoopFactory
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    loop = make_loop(start=True)
    assert loop.wait_for_passes(1, timeout=10)

    with loop.lock:  # the next pass blocks reading the tip, which it does under the lock
        loop.trigger("first", read=True)
        wait_until(lambda: loop.pending is None)  # the worker took it and waits for the lock
        for reason in ("second", "third", "second"):
            loop.trigger(reason)
    assert loop.wait_for_passes(3, timeout=10)

    triggers = [p.trigger for p in reversed(loop.status.passes())]
    assert triggers == ["start", "first", "second, third"]


def test_a_failing_app_backs_off_until_its_spec_changes(
    git_repo: GitRepo, make_loop: LoopFactory, runtime: FakeRuntime
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web"), "apps/api.yaml": app_yaml("api")})
    runtime.failing.add("web")
    loop = make_loop()

    first = loop.run_pass()
    assert [a.app for a in first.actions if a.outcome == "failed"] == ["web"]
    assert loop.status.loop().next_retry_in is None  # the pass itself did not fail

    second = loop.run_pass()
    assert [a.container for a in second.actions] == []  # web waits out its backoff
    assert runtime.running("api") == ["api-1"]

    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"MODE": "fixed"})})
    runtime.failing.clear()
    third = loop.run_pass()
    assert [(a.container, a.outcome) for a in third.actions] == [("web-1", "ok")]
    state = loop.status.app("web")
    assert state is not None and state.sync is SyncState.SYNCED


def test_an_engine_that_does_not_answer_is_retried_with_growing_delays(
    git_repo: GitRepo, make_loop: LoopFactory, runtime: FakeRuntime
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    runtime.reachable = False
    loop = make_loop()

    delays = []
    for _ in range(4):
        record = loop.run_pass()
        assert record.outcome == "failed" and "unreachable" in record.errors[0]
        delays.append(loop.status.loop().next_retry_in)
    assert delays == [0.2, 0.4, 0.8, 1.0]
    assert loop.status.loop().docker_reachable is False

    runtime.reachable = True
    assert loop.run_pass().outcome == "applied"
    assert loop.status.loop().next_retry_in is None
    assert loop.status.loop().docker_reachable is True


def test_an_app_shows_synced_as_soon_as_it_is_applied_while_the_pass_goes_on(
    git_repo: GitRepo, make_loop: LoopFactory, runtime: FakeRuntime
) -> None:
    sha = git_repo.commit(
        {"apps/quick.yaml": app_yaml("quick"), "apps/slow.yaml": app_yaml("slow")}
    )
    runtime.gates["slow"] = threading.Event()
    loop = make_loop(start=True)
    try:
        quick = wait_until(
            lambda: (s := loop.status.app("quick")) and s.sync is SyncState.SYNCED and s
        )
        assert quick.applied_revision == sha
        assert loop.passes == 0  # the pass is still applying slow
        slow = loop.status.app("slow")
        assert slow is None or slow.sync is not SyncState.SYNCED
    finally:
        runtime.gates["slow"].set()
    assert loop.wait_for_passes(1, timeout=10)
    slow = loop.status.app("slow")
    assert slow is not None and slow.sync is SyncState.SYNCED


def test_a_container_that_crashes_is_marked_at_once_and_started_again(
    git_repo: GitRepo, make_loop: LoopFactory, runtime: FakeRuntime
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    loop = make_loop(start=True)
    wait_until(lambda: runtime.running("web") == ["web-1"])
    assert loop.wait_for_passes(1, timeout=10)  # the container runs before its pass is counted
    passes = loop.passes

    dead = runtime.crash("web-1")
    with loop.lock:  # hold the pass back to see what status says meanwhile
        runtime.emit(
            RuntimeEvent(
                reason="docker: web-1 die",
                app="web",
                container="web-1",
                container_id=dead.id,
                state="exited",
                crashed=True,
            )
        )
        state = wait_until(lambda: _container_state(loop, "web", "web-1") == "exited")
        assert state

    assert loop.wait_for_passes(passes + 1, timeout=10)
    assert runtime.running("web") == ["web-1"]
    assert runtime.settled == [[dead.id]]
    assert loop.status.passes()[0].trigger == "docker: web-1 die"


def test_the_engine_coming_back_wakes_a_pass_that_reads_git_again(
    git_repo: GitRepo, make_loop: LoopFactory, runtime: FakeRuntime
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    loop = make_loop(start=True)
    assert loop.wait_for_passes(1, timeout=10)
    git_repo.commit({"apps/api.yaml": app_yaml("api")})  # no Git watcher in this loop

    runtime.emit(RuntimeEvent(reason="docker events interrupted", interrupted=True))
    assert loop.wait_for_passes(2, timeout=10)
    assert runtime.running("api") == []  # an interruption alone does not read Git

    runtime.emit(RuntimeEvent(reason="docker is back", reconnected=True))
    assert loop.wait_for_passes(3, timeout=10)
    assert runtime.running("api") == ["api-1"]
    assert loop.status.passes()[0].trigger == "docker is back"


def test_events_of_gitberth_own_stops_change_no_status(
    git_repo: GitRepo, make_loop: LoopFactory, runtime: FakeRuntime
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    loop = make_loop(start=True)
    wait_until(lambda: runtime.running("web") == ["web-1"])
    passes = loop.passes

    runtime.emit(RuntimeEvent(reason="docker: web-1 die", container_id="x"))
    assert loop.wait_for_passes(passes + 1, timeout=10)
    assert _container_state(loop, "web", "web-1") == "running"
    assert runtime.settled == []


def test_an_app_held_by_a_missing_secret_holds_only_itself(
    git_repo: GitRepo, make_loop: LoopFactory, runtime: FakeRuntime
) -> None:
    git_repo.commit(
        {
            "apps/web.yaml": app_yaml("web", extra="envFrom: [missing]\n"),
            "apps/api.yaml": app_yaml("api"),
        }
    )
    loop = make_loop()

    record = loop.run_pass()

    assert [a.container for a in record.actions] == ["api-1"]
    held = loop.status.app("web")
    assert held is not None and held.error is not None
    assert (held.sync, held.error.kind.value) == (SyncState.ERROR, "Stalled")
    assert runtime.running("web") == []


def _container_state(loop: Loop, app: str, name: str) -> str | None:
    state = loop.status.app(app)
    if state is None:
        return None
    return next((c.state for c in state.containers if c.name == name), None)


def test_a_deploy_committed_while_a_pass_reads_the_tip_waits_and_is_applied_next(
    git_repo: GitRepo, make_loop: LoopFactory, runtime: FakeRuntime
) -> None:
    older = git_repo.commit({"apps/old.yaml": app_yaml("old")})
    loop = make_loop()
    read = loop.source.read
    deployed: list[str] = []

    def deploy() -> None:
        """What POST /deploy does: commit and adopt the commit, under the loop's lock."""
        with loop.lock:
            sha = git_repo.commit({"apps/new.yaml": app_yaml("new")})
            loop.adopt_revision(sha)
            deployed.append(sha)

    deployer = threading.Thread(target=deploy)

    def read_then_let_a_deploy_in(sha: str) -> Any:
        if not deployer.is_alive() and not deployed:
            deployer.start()
            deployer.join(timeout=0.5)  # held off by the lock this pass holds
        return read(sha)

    loop.source.read = read_then_let_a_deploy_in  # type: ignore[method-assign]
    first = loop.run_pass()
    deployer.join()
    assert first.revision == older
    assert [c.revision for c in runtime.containers.values()] == [older]

    second = loop.run_pass(PassRequest(["docker: something died"]))  # reads no Git
    assert second.revision == deployed[0]
    assert runtime.running("new") == ["new-1"]
