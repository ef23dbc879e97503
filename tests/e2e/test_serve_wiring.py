"""``gitberth serve`` with networks, volumes and bind mounts: POST /deploy refuses a bind
mount the server does not allow before anything is written, and the loop runs the rest."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.e2e.conftest import StartServer
from tests.support.gitrepo import GitRepo
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker


def test_deploy_refuses_a_bind_mount_outside_the_allowed_prefix_and_runs_one_inside(
    start_server: StartServer, clean_engine: docker.DockerClient, tmp_path: Path
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"README.md": "apps\n"}, message="start")
    allowed = tmp_path / "srv"
    (allowed / "site").mkdir(parents=True)
    (allowed / "site" / "index.txt").write_text("hello\n")
    server = start_server(repo=repo.path, extra_args=("--allow-bind-under", str(allowed)))
    tip = repo.repo.head.commit.hexsha
    body = {
        "name": "site",
        "image": "gitberth/example-web:1.0",
        "volumes": [{"bind": "/etc", "path": "/host-etc", "readOnly": True}],
    }

    refused = server.client().post("/deploy", json=body)
    assert refused.status_code == 400
    assert "volumes.0.bind" in refused.text and "not under an allowed prefix" in refused.text
    assert repo.repo.head.commit.hexsha == tip  # nothing was committed

    body["volumes"] = [{"bind": str(allowed / "site"), "path": "/site", "readOnly": True}]
    accepted = server.client().post("/deploy", json=body)
    assert accepted.status_code == 202, accepted.text
    container = wait_until(lambda: clean_engine.containers.get("site-1"))
    assert container.exec_run(["cat", "/site/index.txt"]).output == b"hello\n"
