"""Values from manifests, Git and the engine are printed as text, never read as Rich markup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from gitberth.core.sync_status import AppError, AppHealth, AppStanding, ErrorClass, SyncState
from gitberth.database import open_database
from gitberth.state import StateDir
from gitberth.status import StatusStore
from tests.support.gitrepo import GitRepo, app_yaml

pytestmark = pytest.mark.docker

GITBERTH = [sys.executable, "-m", "gitberth"]
MARKUP = "[/]"
TRAP = "trap 'exit 0' TERM; sleep 100000 & wait"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1"}
    return subprocess.run(
        [*GITBERTH, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_apply_prints_a_command_holding_markup_as_text(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    command = f'command: [sh, -c, "{TRAP}", "{MARKUP}"]\n'
    git_repo.commit({"apps/echo.yaml": app_yaml("echo", port=None, extra=command)})
    assert run("apply", "--repo", str(git_repo.path), "--grace", "1").returncode == 0
    changed = f'command: [sh, -c, "{TRAP}", "[bold]{MARKUP}"]\n'
    git_repo.commit({"apps/echo.yaml": app_yaml("echo", port=None, extra=changed)})

    planned = run("plan", "--repo", str(git_repo.path))
    applied = run("apply", "--repo", str(git_repo.path), "--grace", "1")

    for result in (planned, applied):
        assert "Traceback" not in result.stderr, result.stderr
        assert f"-> sh -c {TRAP} [bold]{MARKUP}" in result.stdout
    assert applied.returncode == 0


def test_apply_prints_a_repository_path_holding_markup_as_text(
    tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    repo = GitRepo(tmp_path / "repo[/bold]")
    # An image on a registry that does not answer (127.0.0.1:9): the pull fails, offline.
    repo.commit({"apps/odd.yaml": app_yaml("odd", image="127.0.0.1:9/missing-image:1")})
    result = run("apply", "--repo", str(repo.path), "--grace", "1")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert f"of {repo.path}" in result.stdout
    assert "pull 127.0.0.1:9/missing-image:1" in result.stderr


def test_status_prints_names_and_errors_holding_markup_as_text(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    StatusStore(db).put_apps(
        [
            AppStanding(
                name="odd",
                sync=SyncState.ERROR,
                health=AppHealth.MISSING,
                desired_revision=None,
                applied_revision=None,
                error=AppError(
                    kind=ErrorClass.STALLED,
                    code="action_failed",
                    message=f"image {MARKUP} missing",
                    at=0,
                ),
            )
        ]
    )
    db.close()
    result = run("status", "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr
    assert f"image {MARKUP} missing" in result.stdout
