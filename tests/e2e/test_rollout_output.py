"""A failed rollout says what the new container printed, with every secret value gitberth gave
it redacted, wherever gitberth writes the reason (status, events, history, its own log)."""

from __future__ import annotations

from pathlib import Path

import docker
import httpx
import pytest

from tests.e2e.conftest import StartServer
from tests.support.gitrepo import GitRepo
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

ENV_SENTINEL = "sentinel-env-31c9-never-written-by-gitberth"
FILE_SENTINEL = "sentinel-file-8d02-never-written-by-gitberth"


def manifest(command: str) -> str:
    return (
        "name: web\nimage: gitberth/example-web:1.0\nenvFrom: [creds]\nsecretFiles: [tls]\n"
        f"restart: 'no'\ncommand: [sh, -c, '{command}']\n"
    )


GOOD = manifest('trap "exit 0" TERM; sleep 100000 & wait')
BAD = manifest(
    'echo "booting with $TOKEN"; cat /run/secrets/KEY; echo; echo "fatal: cannot reach db"; exit 3'
)


def test_a_failed_rollout_reports_the_last_lines_without_secret_values(
    start_server: StartServer, tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"apps/web.yaml": GOOD})
    server = start_server(repo=repo.path, extra_args=("--grace", "1", "--rollout-timeout", "5"))
    with server.client() as api:
        assert (
            api.post(
                "/secrets", json={"name": "creds", "data": {"TOKEN": ENV_SENTINEL}}
            ).status_code
            == 201
        )
        assert (
            api.post("/secrets", json={"name": "tls", "data": {"KEY": FILE_SENTINEL}}).status_code
            == 201
        )
        wait_until(lambda: api.get("/apps/web").json().get("sync") == "Synced")
        old_id = clean_engine.containers.get("web-1").id

        bad = repo.commit({"apps/web.yaml": BAD}, message="bad boot")
        state = wait_until(
            lambda: (s := api.get("/apps/web").json()).get("sync") == "Degraded" and s
        )
        message = state["error"]["message"]
        assert "exited with code 3" in message
        assert "it printed:" in message and "fatal: cannot reach db" in message
        assert "booting with [redacted]" in message
        assert ENV_SENTINEL not in message and FILE_SENTINEL not in message
        assert clean_engine.containers.get("web-1").id == old_id, "the old container is kept"

        entry = wait_until(
            lambda: [
                e for e in api.get("/apps/web/history").json()["entries"] if e["revision"] == bad
            ]
        )[0]
        assert (
            entry["outcome"] == "failed" and "fatal: cannot reach db" in entry["error"]["message"]
        )
        everything = " ".join(
            [
                api.get("/apps").text,
                api.get("/events").text,
                api.get("/apps/web/history").text,
                httpx.get(f"{server.url}/metrics", headers=server.auth).text,
                server.logs(),
            ]
        )
    assert "fatal: cannot reach db" in everything
    assert ENV_SENTINEL not in everything
    assert FILE_SENTINEL not in everything
