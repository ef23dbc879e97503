"""How the loop reads Git next to deploys: never an older revision, never a poisoned reader."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from gitberth.database import open_database
from gitberth.loop import Loop, LoopSettings
from gitberth.runtime.docker import DockerRuntime
from gitberth.source import Revision
from gitberth.state import StateDir
from gitberth.status import StatusStore
from tests.support.gitrepo import GitRepo, app_yaml

pytestmark = pytest.mark.docker


@pytest.fixture
def loop(git_repo: GitRepo, tmp_path: Path, clean_engine: docker.DockerClient) -> Iterator[Loop]:
    db = open_database(StateDir(tmp_path / "state"))
    built = Loop(
        settings=LoopSettings(repo=str(git_repo.path), state_dir=tmp_path / "state"),
        runtime=DockerRuntime(source="tests", grace_seconds=1),
        status=StatusStore(db),
    )
    yield built
    db.close()


def test_a_pass_that_read_the_tip_just_before_a_deploy_commit_never_applies_the_older_one(
    git_repo: GitRepo, loop: Loop
) -> None:
    older = git_repo.commit({"apps/old.yaml": app_yaml("old", replicas=0)})
    deployed: list[str] = []
    read = loop.source.read
    pass_thread = threading.current_thread()

    def deploy_meanwhile() -> None:
        """What POST /deploy does: commit and adopt the commit, under the loop's lock."""
        with loop.lock:
            sha = git_repo.commit({"apps/new.yaml": app_yaml("new", replicas=0)})
            loop.adopt_revision(sha)
            deployed.append(sha)

    deploy = threading.Thread(target=deploy_meanwhile)

    def read_then_let_a_deploy_in(sha: str) -> Any:
        result = read(sha)
        if threading.current_thread() is pass_thread and not deploy.is_alive() and not deployed:
            deploy.start()
            deploy.join(timeout=1.0)  # blocked by the lock (fixed) or done (the race)
        return result

    loop.source.read = read_then_let_a_deploy_in  # type: ignore[method-assign]
    first = loop.run_pass(loop._next_work())  # the start pass: reads the tip
    deploy.join()
    assert first.revision == older

    loop.trigger("docker: something died")  # a pass that does not read Git again
    second = loop.run_pass(loop._next_work())
    assert second.revision == deployed[0]


def test_a_reader_whose_git_process_died_is_replaced_and_the_next_read_succeeds(
    git_repo: GitRepo, loop: Loop
) -> None:
    git_repo.commit({"apps/one.yaml": app_yaml("one", replicas=0)})
    assert loop.run_pass().errors == ()
    for process in (loop.source.repo.git.cat_file_all, loop.source.repo.git.cat_file_header):
        if process is not None:
            process.proc.kill()
            process.proc.wait()

    sha = git_repo.commit({"apps/two.yaml": app_yaml("two", replicas=0)})
    record = loop.run_pass()
    assert (record.revision, record.errors) == (sha, ())
    revision: Revision = loop.source.read(sha)[0]
    assert sorted(revision.files) == ["apps/one.yaml", "apps/two.yaml"]
