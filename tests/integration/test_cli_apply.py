"""The `apply`, `plan` and `validate` verbs as a user runs them, against the real engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from tests.support.gitrepo import GitRepo, app_yaml

pytestmark = pytest.mark.docker

GITBERTH = [sys.executable, "-m", "gitberth"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [*GITBERTH, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def names(client: docker.DockerClient) -> list[str]:
    rows = client.api.containers(all=True, filters={"label": "gitberth.app"})
    return sorted(row["Names"][0].lstrip("/") for row in rows)


def test_apply_prints_each_action_and_the_url_then_exits_zero(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/hello.yaml": app_yaml("hello")})
    result = run("apply", "--repo", str(git_repo.path), "--grace", "2")
    assert result.returncode == 0, result.stderr
    assert "create  hello-1: new app" in result.stdout
    assert "running hello-1 at http://127.0.0.1:" in result.stdout
    assert names(clean_engine) == ["hello-1"]


def test_apply_exits_non_zero_on_an_invalid_app_and_still_applies_the_rest(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit(
        {
            "apps/good.yaml": app_yaml("good"),
            "apps/bad.yaml": "name: bad\nimage: x\nreplicas: -1\n",
        }
    )
    result = run("apply", "--repo", str(git_repo.path), "--grace", "2")
    assert result.returncode == 1
    assert "apps/bad.yaml:3:11: replicas:" in result.stderr
    assert "Traceback" not in result.stderr
    assert names(clean_engine) == ["good-1"]


def test_apply_of_an_older_revision_with_rev(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    first = git_repo.commit({"apps/a.yaml": app_yaml("a")})
    git_repo.commit({"apps/b.yaml": app_yaml("b")})
    assert run("apply", "--repo", str(git_repo.path), "--rev", first).returncode == 0
    assert names(clean_engine) == ["a-1"]


def test_plan_shows_what_apply_would_do_and_changes_nothing(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a", replicas=2)})
    result = run("plan", "--repo", str(git_repo.path))
    assert result.returncode == 0, result.stderr
    assert "create  a-1: new app" in result.stdout
    assert "create  a-2: new app" in result.stdout
    assert names(clean_engine) == []


def test_a_missing_repo_or_branch_is_a_clear_error(tmp_path: Path, git_repo: GitRepo) -> None:
    missing = run("apply", "--repo", str(tmp_path / "nope"))
    assert missing.returncode == 1
    assert "is not a Git repository" in missing.stderr
    git_repo.commit({"apps/a.yaml": app_yaml("a")})
    branch = run("plan", "--repo", str(git_repo.path), "--branch", "prod")
    assert branch.returncode == 1
    assert "branch 'prod' not found" in branch.stderr
    assert "Traceback" not in missing.stderr + branch.stderr


def test_validate_reports_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(app_yaml("ok"))
    (tmp_path / "bad.yaml").write_text("name: bad\nimage: x\nport: 0\nbogus: 1\n")
    result = run("validate", str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path}/bad.yaml:3:7: port:" in result.stderr
    assert f"{tmp_path}/bad.yaml:4:1: bogus: unknown field" in result.stderr
    assert run("validate", str(tmp_path / "ok.yaml")).returncode == 0


def test_apply_refuses_to_remove_every_app_unless_the_repo_opts_in(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a"), "apps/b.yaml": app_yaml("b")})
    assert run("apply", "--repo", str(git_repo.path), "--grace", "1").returncode == 0
    git_repo.commit(remove=("apps/a.yaml", "apps/b.yaml"))

    refused = run("apply", "--repo", str(git_repo.path), "--grace", "1")

    assert refused.returncode == 1
    assert "allowEmpty: true" in refused.stderr
    assert names(clean_engine) == ["a-1", "b-1"]
    git_repo.commit({"gitberth.yaml": "allowEmpty: true\n"})
    assert run("apply", "--repo", str(git_repo.path), "--grace", "1").returncode == 0
    assert names(clean_engine) == []
