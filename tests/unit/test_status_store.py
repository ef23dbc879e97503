"""Status is kept per source: a loop only ever writes and forgets its own source's rows, and a
state dir written before several sources existed keeps its status (real SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from gitberth.core.sync_status import AppHealth, AppStanding, PassRecord, SyncState
from gitberth.database import open_database
from gitberth.state import StateDir
from gitberth.status import StatusStore


def standing(name: str, sync: SyncState = SyncState.SYNCED) -> AppStanding:
    return AppStanding(name=name, sync=sync, health=AppHealth.HEALTHY, desired_revision="c")


def test_each_source_reads_writes_and_forgets_only_its_own_apps(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    team_a = StatusStore(db, source_id="aaaa", source_name="team-a")
    team_b = StatusStore(db, source_id="bbbb", source_name="team-b")
    team_a.put_apps([standing("web"), standing("shop")])
    team_b.put_apps([standing("web", SyncState.ERROR), standing("blog")])

    team_b.put_apps([], removed=["web", "shop"])  # b forgets its web; a's web and shop stay

    assert [(s.name, s.source) for s in team_a.apps()] == [("shop", "team-a"), ("web", "team-a")]
    assert [(s.name, s.source) for s in team_b.apps()] == [("blog", "team-b")]
    reopened = StatusStore(db, source_id="aaaa", source_name="team-a")
    assert [s.name for s in reopened.apps()] == ["shop", "web"]
    every = StatusStore.every_source(db)
    assert [(loop.source_id, [a.name for a in apps]) for loop, apps in every] == [
        ("aaaa", ["shop", "web"]),
        ("bbbb", ["blog"]),
    ]
    db.close()


def test_each_source_keeps_its_own_loop_state_and_passes_name_their_source(
    tmp_path: Path,
) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    team_a = StatusStore(db, source_id="aaaa", source_name="team-a")
    team_b = StatusStore(db, source_id="bbbb", source_name="team-b")
    state = team_a.loop()
    state.source_error = "cannot fetch"
    record = PassRecord(started_at=1.0, duration_seconds=0.1, trigger="t", revision=None,
                        outcome="failed")  # fmt: skip
    team_a.record_pass(state, record)
    team_b.record_pass(team_b.loop(), record)

    assert StatusStore(db, source_id="aaaa", source_name="team-a").loop().source_error
    assert StatusStore(db, source_id="bbbb", source_name="team-b").loop().source_error is None
    assert sorted(p.source for p in team_a.passes()) == ["team-a", "team-b"]
    names = [loop.name for loop, _ in StatusStore.every_source(db)]
    assert names == ["team-a", "team-b"]
    db.close()


def test_a_single_source_state_dir_keeps_its_status_when_upgraded(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    old_app = {
        "name": "web", "sync": "Synced", "health": "Healthy", "desired_revision": "c1",
        "applied_revision": "c1", "error": None, "updated_at": 5.0,
        "containers": [{"name": "web-1", "service": "web", "state": "running", "image": "i",
                        "revision": "c1", "url": None, "createdAt": "2024-05-01T12:00:00Z"}],
    }  # fmt: skip
    old_loop = {"source": "/srv/r", "branch": "main", "revision": "c1", "source_id": "cafe"}
    with db.transaction() as connection:
        connection.execute("CREATE TABLE app_status (name TEXT PRIMARY KEY, document TEXT)")
        connection.execute("CREATE TABLE loop_state (id INTEGER PRIMARY KEY, document TEXT)")
        connection.execute("INSERT INTO app_status VALUES ('web', ?)", (json.dumps(old_app),))
        connection.execute("INSERT INTO loop_state VALUES (1, ?)", (json.dumps(old_loop),))

    store = StatusStore(db, source_id="cafe", source_name="default")

    web = store.app("web")
    assert web is not None and web.applied_revision == "c1" and web.source == "default"
    assert web.containers[0].created_at == "2024-05-01T12:00:00Z"
    assert store.loop().revision == "c1" and store.loop().name == "default"
    assert StatusStore(db, source_id="other").apps() == []
    db.close()


def test_a_source_that_reads_again_shows_so_before_its_pass_ends(tmp_path: Path) -> None:
    """Apps show each action's outcome as it happens; the source's own state must not lag
    behind them (a recovered source kept its old error until the pass's rollouts were over)."""
    from gitberth.metrics import LoopMetrics
    from gitberth.pass_recorder import PassRecorder

    db = open_database(StateDir(tmp_path / "state"))
    status = StatusStore(db, source_id="aaaa", source_name="team-a")
    recorder = PassRecorder(status=status, metrics=LoopMetrics(), state=status.loop())
    recorder.source(error="cannot fetch git://127.0.0.1/team-a.git")
    assert status.loop().source_error == "cannot fetch git://127.0.0.1/team-a.git"
    version = status.version

    recorder.source(error=None)  # the next pass read it; its rollouts have not even begun

    assert status.loop().source_error is None
    assert StatusStore(db, source_id="aaaa", source_name="team-a").loop().source_error is None
    recorder.source(error=None)  # unchanged: nothing to store until the pass's record
    assert status.version == version + 1
    db.close()
