"""Replacements on the real engine: start-first with a health wait, stop-first for fixed ports,
and an automatic rollback when the new container never becomes healthy."""

from __future__ import annotations

import urllib.request

import docker
import pytest

from gitberth.reconciler import AppStatus, ReconcileResult, reconcile_once
from gitberth.runtime.docker import DockerRuntime
from gitberth.source import open_repo, read_revision
from tests.support.gitrepo import GitRepo, app_yaml

pytestmark = pytest.mark.docker

SILENT = "command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']\n"
"""A container that runs but listens on nothing: its TCP health check never passes."""


def apply(repo: GitRepo, *, timeout: float = 5.0) -> ReconcileResult:
    runtime = DockerRuntime(source="tests", grace_seconds=2, rollout_timeout=timeout)
    return reconcile_once(revision=read_revision(open_repo(repo.path)), runtime=runtime)


def containers(client: docker.DockerClient, app: str) -> dict[str, tuple[str, str]]:
    rows = client.api.containers(all=True, filters={"label": f"gitberth.app={app}"})
    return {row["Names"][0].lstrip("/"): (row["Id"], row["State"]) for row in rows}


def test_start_first_replaces_with_a_healthy_container_under_the_same_name(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "1"})})
    apply(git_repo)
    [(old_id, _)] = containers(clean_engine, "web").values()

    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "2"})})
    result = apply(git_repo)

    assert result.apps["web"].status is AppStatus.APPLIED
    now = containers(clean_engine, "web")
    assert list(now) == ["web-1"] and now["web-1"][0] != old_id
    [container] = result.apps["web"].containers
    assert container.name == "web-1" and container.url is not None
    assert urllib.request.urlopen(container.url + "/", timeout=5).status == 200


def test_a_new_container_that_never_gets_healthy_is_rolled_back(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    apply(git_repo)
    before = containers(clean_engine, "web")

    git_repo.commit({"apps/web.yaml": app_yaml("web", extra=SILENT)})
    result = apply(git_repo, timeout=1.5)

    report = result.apps["web"]
    assert report.status is AppStatus.FAILED
    assert report.code == "rollout_failed"
    assert "nothing answers on its port" in report.message and "rolled back" in report.message
    assert containers(clean_engine, "web") == before


def test_a_fixed_host_port_goes_stop_first_and_restarts_the_old_one_on_failure(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/fixed.yaml": app_yaml("fixed", extra="hostPort: 18931\n")})
    apply(git_repo)
    [(old_id, _)] = containers(clean_engine, "fixed").values()

    git_repo.commit({"apps/fixed.yaml": app_yaml("fixed", extra="hostPort: 18931\n" + SILENT)})
    failed = apply(git_repo, timeout=1.0)
    assert failed.apps["fixed"].code == "rollout_failed"
    assert "stop-first" in failed.apps["fixed"].message
    assert containers(clean_engine, "fixed") == {"fixed-1": (old_id, "running")}

    git_repo.commit(
        {"apps/fixed.yaml": app_yaml("fixed", env={"V": "2"}, extra="hostPort: 18931\n")}
    )
    assert apply(git_repo).apps["fixed"].status is AppStatus.APPLIED
    [(new_id, state)] = containers(clean_engine, "fixed").values()
    assert new_id != old_id and state == "running"
    assert urllib.request.urlopen("http://127.0.0.1:18931/", timeout=5).status == 200
