"""Ownership is per source: two gitberth instances on one engine never touch each other's apps,
and containers of an older gitberth (no source label) are adopted only by the source that
declares their app."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import docker
import pytest

from gitberth.source_id import source_id
from tests.e2e.conftest import GITBERTH, StartServer
from tests.support.engine import EXAMPLE_IMAGE
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker


def apply(repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GITBERTH, "apply", "--repo", str(repo), "--grace", "1", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def running(client: docker.DockerClient) -> dict[str, str]:
    rows = client.api.containers(filters={"label": "gitberth.app"})
    return {row["Names"][0].lstrip("/"): row["Labels"].get("gitberth.source", "") for row in rows}


def test_apply_of_another_repo_never_removes_the_apps_a_serve_started(
    tmp_path: Path, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    served = GitRepo(tmp_path / "served")
    served.commit({"apps/shop.yaml": app_yaml("shop")})
    other = GitRepo(tmp_path / "other")
    other.commit({"apps/blog.yaml": app_yaml("blog", port=None)})
    server = start_server(repo=served.path, extra_args=("--grace", "1"))
    wait_until(lambda: "shop-1" in running(clean_engine))

    result = apply(other.path)

    assert result.returncode == 0, result.stderr
    assert "1 container of other sources is left alone (app shop)" in result.stdout
    now = running(clean_engine)
    assert now == {
        "shop-1": source_id(str(served.path), branch="main", apps_dir="apps"),
        "blog-1": source_id(str(other.path), branch="main", apps_dir="apps"),
    }
    served.commit({"README.md": "a pass\n"})  # any pass of the server looks at the engine again
    with server.client() as api:
        loop = wait_until(
            lambda: (body := api.get("/apps").json())["sources"][0]["leftAlone"] and body
        )
    assert loop["sources"][0]["leftAlone"] == [
        "1 container of other sources is left alone (app blog)"
    ]
    assert [a["name"] for a in loop["apps"]] == ["shop"]

    # Removing every app of the other repo removes only its own containers.
    other.commit({"gitberth.yaml": "allowEmpty: true\n"}, remove=("apps/blog.yaml",))
    assert apply(other.path).returncode == 0
    assert set(running(clean_engine)) == {"shop-1"}


def test_containers_of_an_older_gitberth_are_adopted_only_for_declared_apps(
    tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"apps/kept.yaml": app_yaml("kept", port=None)})
    for app in ("kept", "stranger"):
        clean_engine.containers.run(
            EXAMPLE_IMAGE,
            ["sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"],
            name=f"{app}-1",
            detach=True,
            labels={  # what gitberth wrote before the source label existed
                "gitberth.app": app,
                "gitberth.service": app,
                "gitberth.spec-hash": "0" * 16,
                "gitberth.revision": "0" * 40,
            },
        )

    result = apply(repo.path)

    assert result.returncode == 0, result.stderr
    assert "replace kept-1" in result.stdout
    assert (
        "1 container without a source label (made by an older gitberth) is left alone "
        "(app stranger)" in result.stdout
    )
    assert running(clean_engine) == {
        "kept-1": source_id(str(repo.path), branch="main", apps_dir="apps"),
        "stranger-1": "",
    }
