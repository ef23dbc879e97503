"""GET /apps/{name}/logs and `gitberth logs`: the containers' own output, read from the engine,
once as JSON or followed as server-sent events that stop when the client goes away."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import docker
import httpx
import pytest

from tests.e2e.conftest import GITBERTH, Server, StartServer, run_cli
from tests.support.gitrepo import GitRepo
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

CHATTY = """name: chatty
services:
  - name: talker
    image: gitberth/example-web:1.0
    command:
      - sh
      - -c
      - >-
        trap "exit 0" TERM; echo hello-from-talker; i=0;
        while true; do i=$((i+1)); echo "tick $i"; sleep 0.2; done & wait
  - name: quiet
    image: gitberth/example-web:1.0
    command: [sh, -c, 'trap "exit 0" TERM; echo hello-from-quiet; sleep 100000 & wait']
"""


def open_streams(server: Server) -> float:
    text = httpx.get(f"{server.url}/metrics", headers=server.auth).text
    for line in text.splitlines():
        if line.startswith("gitberth_log_streams "):
            return float(line.split()[1])
    raise AssertionError("gitberth_log_streams is not exported")


@pytest.fixture
def chatty_server(
    start_server: StartServer, tmp_path: Path, clean_engine: docker.DockerClient
) -> Server:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"apps/chatty.yaml": CHATTY})
    server = start_server(repo=repo.path, extra_args=("--grace", "1"))
    with server.client() as api:
        wait_until(lambda: api.get("/apps/chatty").json().get("sync") == "Synced")
    return server


def test_logs_are_read_per_app_and_service_with_tail_and_since(chatty_server: Server) -> None:
    with chatty_server.client() as api:
        lines = wait_until(
            lambda: (
                (got := api.get("/apps/chatty/logs").json()["lines"])
                # tick 20 is 4 s after the hello: the engine cuts `since` to whole seconds,
                # so since=1s below may reach up to 2 s back and must not reach the hello
                and any(x["line"] == "tick 20" for x in got)
                and got
            )
        )
        talker = [x for x in lines if x["container"] == "chatty-talker-1"]
        assert talker[0]["line"] == "hello-from-talker" and talker[0]["service"] == "talker"
        assert any(x["line"] == "hello-from-quiet" for x in lines)
        assert all(x["time"].startswith("20") for x in lines)
        assert [x["time"] for x in lines] == sorted(x["time"] for x in lines)

        quiet = api.get("/apps/chatty/logs", params={"service": "quiet"}).json()["lines"]
        assert [x["line"] for x in quiet] == ["hello-from-quiet"]
        one = api.get("/apps/chatty/logs", params={"service": "talker", "tail": 1}).json()
        assert len(one["lines"]) == 1 and one["lines"][0]["line"].startswith("tick ")
        future = api.get("/apps/chatty/logs", params={"since": str(time.time() + 3600)}).json()
        assert future["lines"] == []
        recent = api.get("/apps/chatty/logs", params={"since": "1s", "service": "talker"})
        assert recent.status_code == 200
        assert "hello-from-talker" not in [x["line"] for x in recent.json()["lines"]]

        bad = api.get("/apps/chatty/logs", params={"since": "yesterday"})
        assert (bad.status_code, bad.json()["error"], bad.json()["field"]) == (
            400,
            "invalid_request",
            "since",
        )
        assert api.get("/apps/chatty/logs", params={"tail": -1}).status_code == 400
        assert api.get("/apps/nobody/logs").status_code == 404

    printed = run_cli("logs", "chatty", "--service", "quiet", env=chatty_server.cli_env())
    assert printed == "chatty-quiet-1 | hello-from-quiet\n"


def test_following_streams_events_and_a_client_that_leaves_closes_the_stream(
    chatty_server: Server,
) -> None:
    assert open_streams(chatty_server) == 0
    seen: list[dict[str, str]] = []
    with (
        httpx.Client(base_url=chatty_server.url, headers=chatty_server.auth) as client,
        client.stream(
            "GET",
            "/apps/chatty/logs",
            params={"follow": "true", "service": "talker", "tail": 0},
            timeout=httpx.Timeout(10.0),
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        # Keep the line iterator referenced: a dropped one is closed, which closes the stream
        # before the count below is read.
        lines = response.iter_lines()
        for raw in lines:
            if raw.startswith("event: "):
                event = raw.removeprefix("event: ")
            elif raw.startswith("data: ") and event == "line":
                seen.append(json.loads(raw.removeprefix("data: ")))
                if len(seen) == 3:
                    break
        assert open_streams(chatty_server) == 1
    numbers = [int(x["line"].split()[1]) for x in seen]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3, "new lines, in order"
    assert {x["container"] for x in seen} == {"chatty-talker-1"}
    wait_until(lambda: open_streams(chatty_server) == 0, timeout=10)


def test_the_cli_follows_until_interrupted(chatty_server: Server) -> None:
    process = subprocess.Popen(
        [GITBERTH, "logs", "chatty", "-f", "--service", "talker", "--tail", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**chatty_server.cli_env(), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert first.startswith("chatty-talker-1 | tick ")
        assert second.startswith("chatty-talker-1 | tick ")
        assert int(second.split()[-1]) == int(first.split()[-1]) + 1
    finally:
        process.terminate()
        process.wait(timeout=10)
    wait_until(lambda: open_streams(chatty_server) == 0, timeout=10)


def test_a_followed_stream_ends_when_the_containers_go(
    chatty_server: Server, clean_engine: docker.DockerClient
) -> None:
    events: list[str] = []
    with (
        httpx.Client(base_url=chatty_server.url, headers=chatty_server.auth) as client,
        client.stream(
            "GET",
            "/apps/chatty/logs",
            params={"follow": "true", "service": "quiet"},
            timeout=httpx.Timeout(30.0),
        ) as response,
    ):
        for raw in response.iter_lines():
            if raw.startswith("event: "):
                events.append(raw.removeprefix("event: "))
                if events[-1] == "line":
                    clean_engine.containers.get("chatty-quiet-1").stop(timeout=1)
    assert events[0] == "open" and "line" in events and events[-1] == "end"


def test_logs_while_the_engine_is_unreachable_answer_503(
    start_server: StartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"apps/chatty.yaml": CHATTY})
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    server = start_server(repo=repo.path)
    with server.client() as api:
        for params in ({}, {"follow": "true"}):
            response = api.get("/apps/chatty/logs", params=params)
            assert (response.status_code, response.json()["error"]) == (
                503,
                "runtime_unavailable",
            )
