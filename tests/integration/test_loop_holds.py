"""One broken thing holds only what depends on it: a secret record that does not decrypt holds
its consumers, a symlinked apps folder is a clear source error, and the pass goes on."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from gitberth.core.sync_status import SyncState
from gitberth.loop import Loop, LoopSettings
from gitberth.runtime.docker import DockerRuntime
from gitberth.status import StatusStore
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.secretstore import open_store

pytestmark = pytest.mark.docker

QUIET = "command: [sh, -c, \"trap 'exit 0' TERM; sleep 100000 & wait\"]\n"


@pytest.fixture
def loop(git_repo: GitRepo, tmp_path: Path, clean_engine: docker.DockerClient) -> Iterator[Loop]:
    store, db = open_store(tmp_path / "state")
    store.put(name="good", app_id=None, data={"TOKEN": "fine"})
    store.put(name="bad", app_id=None, data={"TOKEN": "sentinel-tampered"})
    built = Loop(
        settings=LoopSettings(repo=str(git_repo.path), state_dir=tmp_path / "state"),
        runtime=DockerRuntime(source="tests", grace_seconds=1),
        status=StatusStore(db),
        secrets=store,
    )
    yield built
    db.close()


def tamper(database: Path, *, name: str) -> None:
    with sqlite3.connect(database) as connection:
        [record] = connection.execute(
            "SELECT record FROM secrets WHERE name = ?", (name,)
        ).fetchone()
        flipped = bytes(record[:-1]) + bytes([record[-1] ^ 1])
        connection.execute("UPDATE secrets SET record = ? WHERE name = ?", (flipped, name))


def test_a_secret_that_does_not_decrypt_holds_only_its_consumers(
    git_repo: GitRepo, loop: Loop, tmp_path: Path
) -> None:
    tamper(tmp_path / "state" / "gitberth.db", name="bad")
    git_repo.commit(
        {
            "apps/uses-good.yaml": app_yaml(
                "uses-good", port=None, extra=QUIET + "envFrom: [good]\n"
            ),
            "apps/uses-bad.yaml": app_yaml("uses-bad", port=None, extra=QUIET + "envFrom: [bad]\n"),
        }
    )

    record = loop.run_pass()

    assert [a.container for a in record.actions] == ["uses-good-1"]
    [error] = record.errors
    assert error.startswith("uses-bad: secret bad (shared) does not decrypt")
    assert "sentinel-tampered" not in error
    good, bad = loop.status.app("uses-good"), loop.status.app("uses-bad")
    assert good is not None and good.sync is SyncState.SYNCED
    assert bad is not None and bad.error is not None
    assert (bad.sync, bad.error.code, bad.error.kind.value) == (
        SyncState.ERROR,
        "integrity_error",
        "Stalled",
    )


def test_a_symlinked_apps_folder_is_a_clear_error_and_the_last_good_revision_stays(
    git_repo: GitRepo, loop: Loop
) -> None:
    good = git_repo.commit({"apps/web.yaml": app_yaml("web", replicas=0)})
    assert loop.run_pass().errors == ()
    git_repo.repo.index.remove(["apps/web.yaml"], working_tree=True)
    git_repo.write("real/web.yaml", app_yaml("web", replicas=0))
    os.symlink("real", git_repo.path / "apps")
    git_repo.repo.index.add(["real/web.yaml", "apps"])
    git_repo.repo.index.commit("apps is now a link")

    record = loop.run_pass()

    [error] = record.errors
    assert error.startswith("apps is a symbolic link in Git at ")
    assert "not a directory" in error
    assert record.revision == good
