"""``gitberth serve`` as users run it: webhooks, kill -9 mid-rollout, a Docker restart, status."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.e2e.conftest import GITBERTH, StartServer
from tests.support.engine import restart_dockerd
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

FAST = ("--grace", "1", "--rollout-timeout", "10", "--interval", "30")


def names(client: docker.DockerClient, app: str) -> dict[str, str]:
    rows = client.api.containers(all=True, filters={"label": f"gitberth.app={app}"})
    return {row["Names"][0].lstrip("/"): row["State"] for row in rows}


def passes_triggered_by(client: httpx.Client, auth: dict[str, str], reason: str) -> list[Any]:
    passes = client.get("/events", params={"limit": 200}, headers=auth).json()["passes"]
    return [p for p in passes if reason in p["trigger"]]


def spec_hash(client: docker.DockerClient, name: str) -> str:
    return str(client.containers.get(name).labels["gitberth.spec-hash"])


def push_body(branch: str = "main") -> bytes:
    return json.dumps({"ref": f"refs/heads/{branch}", "after": "0" * 40}).encode()


def test_a_signed_webhook_fetches_at_once_and_a_bad_signature_does_nothing(
    git_repo: GitRepo, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/hooked.yaml": app_yaml("hooked")})
    server = start_server(
        repo=f"file://{git_repo.path}",
        extra_args=(*FAST[:4], "--interval", "300", "--webhook-secret", "hook-secret"),
    )
    wait_until(lambda: names(clean_engine, "hooked"))
    git_repo.commit({"apps/later.yaml": app_yaml("later")})
    body = push_body()

    with httpx.Client(base_url=server.url, timeout=10) as client:
        forged = client.post(
            "/hooks/git", content=body, headers={"x-hub-signature-256": "sha256=" + "0" * 64}
        )
        unsigned = client.post("/hooks/git", content=body)
        assert (forged.status_code, unsigned.status_code) == (401, 401)
        assert forged.json()["error"] == "unauthorized"
        # A secret write asks for a pass that does not fetch. Had either refused hook asked for
        # one (a fetch), it would run before or merge into that pass: once a pass triggered by
        # the write is recorded, the new commit must still be unseen.
        nudge = {"name": "nudge", "data": {"K": "v"}}
        assert client.post("/secrets", json=nudge, headers=server.auth).status_code == 201
        wait_until(lambda: passes_triggered_by(client, server.auth, "secret changed"))
        assert names(clean_engine, "later") == {}

        signature = hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
        signed = client.post(
            "/hooks/git", content=body, headers={"x-hub-signature-256": f"sha256={signature}"}
        )
        assert signed.status_code == 202
        wait_until(lambda: names(clean_engine, "later"), timeout=10)

        gitea = client.post("/hooks/git", content=body, headers={"x-gitea-signature": signature})
        gitlab = client.post("/hooks/git", content=body, headers={"x-gitlab-token": "hook-secret"})
        assert (gitea.status_code, gitlab.status_code) == (202, 202)
    assert "hook-secret" not in server.logs()


def test_kill_9_during_a_rollout_then_a_restart_converges_without_duplicates(
    git_repo: GitRepo, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    server = start_server(repo=git_repo.path, extra_args=FAST)
    wait_until(lambda: names(clean_engine, "web") == {"web-1": "running"})

    slow_start = "command: [sh, -c, 'sleep 3; exec sh /serve.sh']\n"
    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "2"}, extra=slow_start)})
    wait_until(lambda: "web-1-next" in names(clean_engine, "web"), timeout=10)
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.process = None

    server.start()

    def converged() -> bool:
        now = names(clean_engine, "web")
        if now != {"web-1": "running"}:
            return False
        return "V=2" in clean_engine.containers.get("web-1").attrs["Config"]["Env"]

    wait_until(converged, timeout=30)
    with server.client() as client:
        state = wait_until(lambda: (s := client.get("/apps/web").json())["sync"] == "Synced" and s)
    assert state["appliedRevision"] == git_repo.repo.head.commit.hexsha
    assert state["containers"][0]["url"].startswith("http://127.0.0.1:")

    server.process.send_signal(signal.SIGTERM)
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete, hence -SIGTERM.
    assert server.process.wait(timeout=15) in (0, -signal.SIGTERM)
    server.process = None
    assert "reconcile loop stopped" in server.logs()


def test_the_loop_recovers_by_itself_when_dockerd_restarts(
    git_repo: GitRepo, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/survivor.yaml": app_yaml("survivor")})
    server = start_server(repo=git_repo.path, extra_args=FAST)
    wait_until(lambda: names(clean_engine, "survivor") == {"survivor-1": "running"})

    restart_dockerd()

    wait_until(lambda: names(clean_engine, "survivor") == {"survivor-1": "running"}, timeout=60)

    def reachable_again(client: httpx.Client) -> bool:
        """The engine's restart policy can bring the container back before the loop's next
        retry (its backoff is capped at 30 s), so wait for the loop's own pass to succeed."""
        sources = client.get("/apps").json()["sources"]
        return bool(sources) and sources[0]["dockerReachable"] is True

    with server.client() as client:
        assert wait_until(lambda: reachable_again(client), timeout=60)
        events = client.get("/events", params={"limit": 200}).json()["passes"]
    assert any("unreachable" in " ".join(p["errors"]) for p in events)
    assert names(clean_engine, "survivor") == {"survivor-1": "running"}


def test_status_shows_what_the_api_shows(
    git_repo: GitRepo,
    start_server: StartServer,
    clean_engine: docker.DockerClient,
    tmp_path: Path,
) -> None:
    git_repo.commit(
        {
            "apps/fine.yaml": app_yaml("fine"),
            "apps/broken.yaml": "name: broken\nimage: gitberth/example-web:1.0\nport: 0\n",
        }
    )
    server = start_server(repo=git_repo.path, extra_args=FAST)
    with server.client() as client:

        def settled() -> dict[str, Any] | None:
            """Both apps reported once the first pass has finished rolling out "fine"."""
            listed = {a["name"]: a for a in client.get("/apps").json()["apps"]}
            if len(listed) == 2 and listed.get("fine", {}).get("sync") == "Synced":
                return listed
            return None

        apps = wait_until(settled)
        assert client.get("/apps/nope").status_code == 404
        metrics = client.get("/metrics").text
        assert httpx.get(f"{server.url}/apps").status_code == 401
    assert apps["fine"]["sync"] == "Synced"
    assert apps["broken"]["sync"] == "Error" and apps["broken"]["error"]["kind"] == "Stalled"
    assert 'gitberth_apps{source="default",sync_state="Synced"} 1.0' in metrics
    assert "gitberth_pass_duration_seconds_count" in metrics

    result = subprocess.run(
        [
            GITBERTH,
            "status",
            "--state-dir",
            str(server.state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "fine" in result.stdout and "Synced" in result.stdout
    assert "broken" in result.stdout and "Stalled" in result.stdout


def test_json_logs_carry_each_pass_and_action_as_fields(
    start_server: StartServer, git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    sha = git_repo.commit({"apps/web.yaml": app_yaml("web")})
    server = start_server(repo=git_repo.path, extra_args=(*FAST, "--log-format", "json"))
    wait_until(lambda: names(clean_engine, "web") == {"web-1": "running"})

    def records() -> list[dict[str, Any]]:
        return [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]

    passes = wait_until(lambda: [r for r in records() if r.get("event") == "pass"])
    assert passes[0]["revision"] == sha
    assert passes[0]["actions"] == 1 and passes[0]["errors"] == []
    [action] = [r for r in records() if r.get("event") == "action"]
    assert (action["kind"], action["container"], action["reason"]) == ("create", "web-1", "new app")
    assert all(line.startswith("{") for line in server.logs().splitlines() if line.strip())
