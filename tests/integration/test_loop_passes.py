"""The reconcile loop on the real engine and real Git: triggers, self-heal, safe prune, status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from gitberth.core.sync_status import AppStanding, ErrorClass, SyncState
from gitberth.database import Database, open_database
from gitberth.loop import Loop, LoopSettings
from gitberth.runtime.docker import DockerRuntime
from gitberth.state import StateDir
from gitberth.status import StatusStore
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

LoopFactory = Callable[..., Loop]


def running(client: docker.DockerClient, app: str) -> dict[str, str]:
    rows = client.api.containers(filters={"label": f"gitberth.app={app}", "status": "running"})
    return {row["Names"][0].lstrip("/"): row["Id"] for row in rows}


def synced(state: AppStanding | None) -> AppStanding | None:
    return state if state is not None and state.sync is SyncState.SYNCED else None


def every(client: docker.DockerClient, app: str) -> dict[str, str]:
    rows = client.api.containers(all=True, filters={"label": f"gitberth.app={app}"})
    return {row["Names"][0].lstrip("/"): row["State"] for row in rows}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(StateDir(tmp_path / "state"))
    yield db
    db.close()


@pytest.fixture
def make_loop(
    git_repo: GitRepo, database: Database, tmp_path: Path, clean_engine: docker.DockerClient
) -> Iterator[LoopFactory]:
    loops: list[Loop] = []

    def make(*, repo: str | None = None, start: bool = True, **overrides: Any) -> Loop:
        settings: dict[str, Any] = {
            "repo": repo or str(git_repo.path),
            "state_dir": tmp_path / "state",
            "interval": 30.0,
            "retry_base": 0.2,
            "retry_max": 1.0,
            "app_backoff_base": 30.0,
            **overrides,
        }
        loop = Loop(
            settings=LoopSettings(**settings),
            runtime=DockerRuntime(source="tests", grace_seconds=1, rollout_timeout=2.0),
            status=StatusStore(database),
        )
        loops.append(loop)
        if start:
            loop.start()
        return loop

    yield make
    for loop in loops:
        loop.stop(timeout=20)


def test_a_commit_is_applied_without_any_manual_trigger(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/first.yaml": app_yaml("first")})
    loop = make_loop()
    wait_until(lambda: running(clean_engine, "first"))
    loop.wait_for_passes(1, timeout=10)

    sha = git_repo.commit({"apps/second.yaml": app_yaml("second")})
    wait_until(lambda: running(clean_engine, "second"), timeout=5)

    # The container runs before the pass that started it records its status.
    state = wait_until(lambda: synced(loop.status.app("second")))
    assert state.applied_revision == sha
    assert state.containers[0].url is not None


def test_containers_removed_or_stopped_by_hand_are_brought_back(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/heal.yaml": app_yaml("heal", replicas=2)})
    make_loop()
    first = wait_until(
        lambda: len(running(clean_engine, "heal")) == 2 and running(clean_engine, "heal")
    )

    clean_engine.api.remove_container(first["heal-1"], force=True)
    clean_engine.api.stop(first["heal-2"], timeout=1)

    healed = wait_until(
        lambda: (
            (now := running(clean_engine, "heal")).keys() == {"heal-1", "heal-2"}
            and now["heal-2"] != first["heal-2"]
            and now
        )
    )
    assert healed["heal-1"] != first["heal-1"]
    assert every(clean_engine, "heal") == {"heal-1": "running", "heal-2": "running"}


def test_a_container_changed_by_hand_is_replaced(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/tamper.yaml": app_yaml("tamper")})
    loop = make_loop()
    [original] = wait_until(lambda: running(clean_engine, "tamper")).values()
    labels = clean_engine.containers.get(original).labels
    loop.stop()
    clean_engine.api.remove_container(original, force=True)
    forged = clean_engine.containers.run(
        "gitberth/example-web:1.0",
        name="tamper-1",
        detach=True,
        labels={**labels, "gitberth.spec-hash": "edited-by-hand"},
        environment={"INJECTED": "1"},
    )

    record = make_loop(start=False).run_pass()

    [action] = record.actions
    assert action.kind == "replace" and "changed by hand" in action.reason
    [now] = running(clean_engine, "tamper").values()
    assert now != forged.id
    assert "INJECTED=1" not in clean_engine.containers.get(now).attrs["Config"]["Env"]


def test_a_noop_pass_does_no_git_work_and_one_list_call(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a"), "apps/b.yaml": app_yaml("b")})
    loop = make_loop(start=False)
    assert loop.run_pass().outcome == "applied"
    reads: list[str] = []
    original_read = loop.source.read
    loop.source.read = lambda sha: reads.append(sha) or original_read(sha)  # type: ignore[method-assign]
    loop.runtime.calls.clear()

    loop.trigger("docker: something died")
    record = loop.run_pass(loop._next_work())

    assert record.outcome == "noop" and record.actions == ()
    assert reads == []
    assert dict(loop.runtime.calls) == {"GET /containers/json": 1}


def test_a_bad_manifest_beside_a_good_change_holds_only_its_app(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/good.yaml": app_yaml("good"), "apps/bad.yaml": app_yaml("bad")})
    loop = make_loop()
    wait_until(lambda: running(clean_engine, "good") and running(clean_engine, "bad"))
    bad_before = running(clean_engine, "bad")

    git_repo.commit(
        {
            "apps/good.yaml": app_yaml("good", env={"NEW": "1"}),
            "apps/bad.yaml": "name: bad\nimage: gitberth/example-web:1.0\nport: 99999\n",
        }
    )

    wait_until(
        lambda: any(
            "NEW=1" in clean_engine.containers.get(i).attrs["Config"]["Env"]
            for i in running(clean_engine, "good").values()
        )
    )
    bad = wait_until(lambda: (s := loop.status.app("bad")) and s.sync is SyncState.ERROR and s)
    assert bad.error is not None and bad.error.kind is ErrorClass.STALLED
    assert "apps/bad.yaml:3:7: port:" in bad.error.message
    assert running(clean_engine, "bad") == bad_before


def test_removing_every_manifest_prunes_nothing_without_the_opt_in(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/one.yaml": app_yaml("one"), "apps/two.yaml": app_yaml("two")})
    loop = make_loop(start=False)
    loop.run_pass()
    before = {**running(clean_engine, "one"), **running(clean_engine, "two")}

    git_repo.commit(remove=("apps/one.yaml", "apps/two.yaml"))
    refused = loop.run_pass()

    assert refused.actions == () and refused.outcome == "errors"
    assert any("allowEmpty: true" in e for e in refused.errors)
    assert {**running(clean_engine, "one"), **running(clean_engine, "two")} == before
    state = loop.status.app("one")
    assert state is not None and state.error is not None and state.error.code == "prune_refused"

    git_repo.commit({"gitberth.yaml": "allowEmpty: true\n"})
    pruned = loop.run_pass()

    assert sorted(a.kind for a in pruned.actions) == ["remove", "remove"]
    assert running(clean_engine, "one") == {} and running(clean_engine, "two") == {}
    assert loop.status.apps() == []


def test_an_unreadable_source_keeps_the_last_revision_and_prunes_nothing(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/stay.yaml": app_yaml("stay")})
    loop = make_loop(start=False, branch="main")
    loop.run_pass()
    kept = running(clean_engine, "stay")
    git_repo.repo.git.branch("-m", "main", "renamed")

    record = loop.run_pass()

    assert record.outcome == "errors" and "branch 'main' not found" in record.errors[0]
    assert running(clean_engine, "stay") == kept
    assert loop.status.loop().source_error is not None


def test_a_failing_health_check_rolls_back_and_marks_the_app_degraded(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    loop = make_loop(start=False)
    loop.run_pass()
    before = every(clean_engine, "web")

    git_repo.commit(
        {
            "apps/web.yaml": app_yaml(
                "web", extra="command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']\n"
            )
        }
    )
    record = loop.run_pass()

    assert [a.outcome for a in record.actions] == ["failed"]
    assert every(clean_engine, "web") == before
    state = loop.status.app("web")
    assert state is not None and state.sync is SyncState.DEGRADED
    assert state.error is not None and state.error.code == "rollout_failed"
    assert "rolled back" in state.error.message

    again = loop.run_pass()
    assert again.actions == (), "an app in backoff is not rolled out again at once"


def test_a_remote_is_cloned_into_the_state_dir_and_fetched(
    git_repo: GitRepo, make_loop: LoopFactory, clean_engine: docker.DockerClient, tmp_path: Path
) -> None:
    git_repo.commit({"apps/far.yaml": app_yaml("far")})
    loop = make_loop(repo=f"file://{git_repo.path}", start=False)
    loop.run_pass()
    assert running(clean_engine, "far")
    assert list((tmp_path / "state" / "repos").iterdir())

    git_repo.commit({"apps/far.yaml": app_yaml("far", env={"V": "2"})})
    loop.trigger("webhook", fetch=True, read=True)
    record = loop.run_pass(loop._next_work())

    assert [a.kind for a in record.actions] == ["replace"]


def test_status_and_events_survive_a_restart(
    git_repo: GitRepo, make_loop: LoopFactory, database: Database, clean_engine: docker.DockerClient
) -> None:
    sha = git_repo.commit({"apps/kept.yaml": app_yaml("kept")})
    make_loop(start=False).run_pass()

    reopened = StatusStore(database)

    state = reopened.app("kept")
    assert state is not None and state.applied_revision == sha
    assert reopened.passes()[0].revision == sha
    assert reopened.loop().revision == sha
