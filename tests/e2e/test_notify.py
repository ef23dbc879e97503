"""serve --notify: an event per changed or failed app, to real HTTP receivers started here.

A receiver that fails first gets the event after retries; one that never answers holds up
nothing; an identical failure is told once; no secret value is ever in an event.
"""

from __future__ import annotations

from pathlib import Path

import docker
import httpx
import jsonschema
import pytest

from gitberth.notify import notification_schema
from tests.e2e.conftest import Server, StartServer, free_port
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.receiver import receiving
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

COMMAND = "command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']\n"
SENTINEL = "sentinel-notify-77aa-never-in-an-event"


def metric(server: Server, sample: str) -> float:
    for line in httpx.get(f"{server.url}/metrics", headers=server.auth).text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[1])
    return 0.0


def test_events_reach_json_and_slack_receivers_with_retries_and_no_repeats(
    start_server: StartServer, tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    repo = GitRepo(tmp_path / "repo")
    first = repo.commit(
        {"apps/web.yaml": app_yaml("web", port=None, extra=COMMAND)}, message="add web"
    )
    closed = free_port()
    with receiving(fail_first=2) as plain, receiving() as slack:
        server = start_server(
            repo=repo.path,
            extra_args=(
                "--grace", "1",
                "--notify", f"{plain.url}/hook",
                "--notify", f"slack+{slack.url}/services/T0/B0/secretpath",
                "--notify", f"http://127.0.0.1:{closed}/nobody-listens",
            ),
        )  # fmt: skip
        with server.client() as api:
            wait_until(lambda: api.get("/apps/web").json().get("sync") == "Synced")
            assert (
                api.post("/secrets", json={"name": "creds", "data": {"K": SENTINEL}}).status_code
                == 201
            )

        events = wait_until(lambda: plain.accepted("/hook"), timeout=30)
        event = events[0].body
        jsonschema.validate(event, notification_schema())
        assert (event["app"], event["outcome"], event["revision"]) == ("web", "applied", first)
        assert (event["subject"], event["author"]) == ("add web", "gitberth tests")
        assert [(a["kind"], a["container"], a["reason"]) for a in event["actions"]] == [
            ("create", "web-1", "new app")
        ]
        assert event["error"] is None and event["branch"] == "main"
        assert [r.status for r in plain.all()][:3] == [500, 500, 201], "retried until it recovered"
        text = wait_until(lambda: slack.accepted())[0].body["text"]
        assert "*web* applied" in text and first[:12] in text and "create web-1: new app" in text
        assert wait_until(
            lambda: metric(server, 'gitberth_delivery_retries_total{kind="notification"}') >= 2
        )

        broken = repo.commit({"apps/web.yaml": "name: web\ncolour: red\n"}, message="typo")
        failed = wait_until(
            lambda: [r.body for r in plain.accepted("/hook") if r.body["outcome"] == "invalid"]
        )
        assert failed[0]["revision"] == broken
        assert failed[0]["error"]["code"] == "invalid_manifest"
        assert "colour" in failed[0]["error"]["message"]

        side = app_yaml("side", port=None, extra=COMMAND + "envFrom: [creds]\n")
        repo.commit({"apps/side.yaml": side}, message="add side")
        wait_until(lambda: [r for r in plain.accepted("/hook") if r.body["app"] == "side"])
        with server.client() as api:
            api.post("/secrets", json={"name": "creds", "data": {"K": SENTINEL + "2"}})
        wait_until(
            lambda: len([r for r in plain.accepted("/hook") if r.body["app"] == "side"]) == 2
        )
        invalid = [r for r in plain.accepted("/hook") if r.body["outcome"] == "invalid"]
        assert len(invalid) == 1, "the same failure is told once, not every pass"
        with server.client() as api:
            outcomes = [e["outcome"] for e in api.get("/apps/web/history").json()["entries"]]
        assert outcomes == ["invalid", "applied"], "and recorded once in the history"
        assert metric(server, 'gitberth_notifications_total{outcome="sent"}') >= 4

        everything = repr([r.body for r in plain.all() + slack.all()])
        assert SENTINEL not in everything
        assert "secretpath" not in server.logs(), "webhook paths are credentials"
        assert SENTINEL not in server.logs()


def test_a_bad_notify_url_is_refused_at_start(tmp_path: Path) -> None:
    import subprocess

    from tests.e2e.conftest import GITBERTH

    result = subprocess.run(
        [GITBERTH, "serve", "--state-dir", str(tmp_path / "s"), "--repo", str(tmp_path),
         "--notify", "ftp://example.invalid/x"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--notify" in result.stderr and "http(s)" in result.stderr
