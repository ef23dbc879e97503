"""``GET /apps`` for a token that sees every app is built once per change of status, not once
per request: a dashboard polling it ten times a second at 1,000 apps must not take the CPU the
loop needs (real SQLite)."""

from __future__ import annotations

import json
from pathlib import Path

from gitberth.api.app_list import AppListCache
from gitberth.core.sync_status import AppHealth, AppList, AppStanding, SourceStanding, SyncState
from gitberth.database import open_database
from gitberth.state import StateDir
from gitberth.status import StatusStore


def standing(name: str, sync: SyncState = SyncState.SYNCED) -> AppStanding:
    return AppStanding(name=name, sync=sync, health=AppHealth.HEALTHY, desired_revision="c")


def test_the_body_is_built_again_only_when_a_store_changes(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    team_a = StatusStore(db, source_id="aaaa", source_name="team-a")
    team_b = StatusStore(db, source_id="bbbb", source_name="team-b")
    team_a.put_apps([standing(f"app-{i:04d}") for i in range(200)])
    team_b.put_apps([standing("app-0000", SyncState.ERROR)])
    cache = AppListCache(lambda: [team_a, team_b])

    first = cache.body()
    for _ in range(20):
        assert cache.body() == first
    assert cache.builds == 1

    expected = AppList(
        sources=[team_a.loop(), team_b.loop()],
        apps=sorted([*team_a.apps(), *team_b.apps()], key=lambda s: (s.name, s.source)),
    )
    assert json.loads(first) == expected.to_json()

    team_b.mark_progressing("app-0000", revision="d")  # memory only, still a change
    progressing = json.loads(cache.body())
    assert cache.builds == 2
    assert [a["sync"] for a in progressing["apps"] if a["source"] == "team-b"] == ["Progressing"]

    team_a.put_loop(SourceStanding(revision="e"))
    assert json.loads(cache.body())["sources"][0]["revision"] == "e"
    team_a.put_apps([], removed=["app-0001"])
    assert len(json.loads(cache.body())["apps"]) == 200
    assert cache.builds == 4
    db.close()
