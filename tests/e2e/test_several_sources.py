"""Several Git sources feeding one ``gitberth serve``, against a real ``git daemon``.

Two teams' bare repositories are served by ``git daemon`` on 127.0.0.1; one real serve follows
both from a ``gitberth.yaml`` (each source with its own webhook secret, from the environment),
with a long ``--interval`` so only webhooks fetch. The tests read what users read: ``GET
/apps``, ``/events``, ``/metrics``, history, ``gitberth status`` and the engine itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.e2e.conftest import GITBERTH, Server, StartServer
from tests.support.gitrepo import app_yaml
from tests.support.gitservers import BareRepo, GitDaemon
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

SECRETS = {"team-a": "hook-secret-of-team-a", "team-b": "hook-secret-of-team-b"}
SERVE_ARGS = ("--grace", "1", "--rollout-timeout", "10", "--interval", "3600")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GitDaemon, BareRepo, BareRepo]]:
    root = tmp_path / "served"
    root.mkdir()
    team_a = BareRepo.create(root, "team-a")
    team_a.commit({"apps/alpha.yaml": app_yaml("alpha")})
    team_b = BareRepo.create(root, "team-b")
    team_b.commit({"deploy/beta.yaml": app_yaml("beta")})
    daemon = GitDaemon(root)
    daemon.start()
    yield daemon, team_a, team_b
    daemon.stop()


def write_config(path: Path, daemon: GitDaemon) -> Path:
    path.write_text(
        "sources:\n"
        "  - name: team-a\n"
        f"    url: {daemon.url('team-a')}\n"
        "    webhookSecretEnv: TEAM_A_HOOK\n"
        "    default: true\n"
        "  - name: team-b\n"
        f"    url: {daemon.url('team-b')}\n"
        "    appsDir: deploy\n"
        "    webhookSecretEnv: TEAM_B_HOOK\n"
    )
    return path


@pytest.fixture
def server(
    start_server: StartServer,
    served: tuple[GitDaemon, BareRepo, BareRepo],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_engine: docker.DockerClient,
) -> Server:
    monkeypatch.setenv("TEAM_A_HOOK", SECRETS["team-a"])
    monkeypatch.setenv("TEAM_B_HOOK", SECRETS["team-b"])
    config = write_config(tmp_path / "gitberth.yaml", served[0])
    return start_server(extra_args=(*SERVE_ARGS, "--config", str(config)))


def hook(server: Server, source: str | None, *, secret: str) -> httpx.Response:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    path = f"/hooks/git/{source}" if source else "/hooks/git"
    return httpx.post(
        server.url + path,
        content=body,
        headers={"x-hub-signature-256": f"sha256={signature}"},
        timeout=10,
    )


def running(engine: docker.DockerClient, name: str) -> bool:
    return bool(engine.api.containers(filters={"name": f"^/{name}$"}))


def apps(server: Server) -> dict[tuple[str, str], dict[str, Any]]:
    with server.client() as api:
        body = api.get("/apps").json()
    return {(a["name"], a["source"]): a for a in body["apps"]}


def sources(server: Server) -> dict[str, dict[str, Any]]:
    with server.client() as api:
        return {s["name"]: s for s in api.get("/apps").json()["sources"]}


def synced(server: Server, *keys: tuple[str, str]) -> bool:
    found = apps(server)
    return all(k in found and found[k]["sync"] == "Synced" for k in keys)


def test_two_sources_feed_one_serve_and_every_view_names_the_source(
    server: Server, clean_engine: docker.DockerClient
) -> None:
    wait_until(lambda: synced(server, ("alpha", "team-a"), ("beta", "team-b")), timeout=40)
    assert running(clean_engine, "alpha-1") and running(clean_engine, "beta-1")
    labels = {
        name: clean_engine.api.inspect_container(name)["Config"]["Labels"]["gitberth.source"]
        for name in ("alpha-1", "beta-1")
    }
    assert labels["alpha-1"] != labels["beta-1"], "each source stamps its own id"
    listed = sources(server)
    assert set(listed) == {"team-a", "team-b"}
    assert listed["team-b"]["sourceId"] == labels["beta-1"]

    with server.client() as api:
        passes = api.get("/events").json()["passes"]
        metrics = api.get("/metrics").text
        history = api.get("/apps/beta/history").json()["entries"]
        schemas = api.get("/openapi.json").json()["components"]["schemas"]
    assert {p["source"] for p in passes} == {"team-a", "team-b"}
    assert 'gitberth_apps{source="team-a",sync_state="Synced"} 1.0' in metrics
    assert 'gitberth_source_up{source="team-b"} 1.0' in metrics
    assert history and history[0]["source"] == "team-b"
    standing = schemas["AppStanding"]["properties"]
    assert {"source", "desiredRevision", "appliedRevision", "updatedAt"} <= set(standing)
    assert {"sources", "apps"} <= set(schemas["AppList"]["properties"])
    assert {"source", "startedAt", "durationSeconds"} <= set(schemas["PassRecord"]["properties"])

    status = subprocess.run(
        [GITBERTH, "status", "--state-dir", str(server.state_dir)],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    rows = {line.split()[1]: line for line in status.stdout.splitlines() if "Synced" in line}
    assert "team-a" in rows["alpha"] and "team-b" in rows["beta"]


def test_a_webhook_fetches_only_its_own_source_with_its_own_secret(
    server: Server,
    served: tuple[GitDaemon, BareRepo, BareRepo],
    clean_engine: docker.DockerClient,
) -> None:
    _, team_a, team_b = served
    wait_until(lambda: synced(server, ("alpha", "team-a"), ("beta", "team-b")), timeout=40)
    a_revision = sources(server)["team-a"]["revision"]
    team_a.commit({"apps/later.yaml": app_yaml("later")})
    team_b.commit({"deploy/gamma.yaml": app_yaml("gamma")})

    assert hook(server, "team-b", secret=SECRETS["team-a"]).status_code == 401
    assert hook(server, None, secret=SECRETS["team-b"]).status_code == 404
    assert hook(server, "team-c", secret=SECRETS["team-b"]).status_code == 404
    response = hook(server, "team-b", secret=SECRETS["team-b"])
    assert response.status_code == 202 and response.json()["source"] == "team-b"

    wait_until(lambda: synced(server, ("gamma", "team-b")), timeout=30)
    assert sources(server)["team-a"]["revision"] == a_revision, "team-a was not fetched"
    assert ("later", "team-a") not in apps(server)

    assert hook(server, "team-a", secret=SECRETS["team-a"]).status_code == 202
    wait_until(lambda: synced(server, ("later", "team-a")), timeout=30)


def test_an_app_both_sources_declare_is_held_in_both_until_one_drops_it(
    server: Server,
    served: tuple[GitDaemon, BareRepo, BareRepo],
    clean_engine: docker.DockerClient,
) -> None:
    _, team_a, team_b = served
    team_a.commit({"apps/shared.yaml": app_yaml("shared")})
    assert hook(server, "team-a", secret=SECRETS["team-a"]).status_code == 202
    wait_until(lambda: synced(server, ("shared", "team-a"), ("beta", "team-b")), timeout=40)
    before = clean_engine.api.inspect_container("shared-1")["Id"]

    team_b.commit({"deploy/shared.yaml": app_yaml("shared", env={"FROM": "team-b"})})
    assert hook(server, "team-b", secret=SECRETS["team-b"]).status_code == 202

    def both_held() -> bool:
        found = apps(server)
        held = [found.get(("shared", s)) for s in ("team-a", "team-b")]
        return all(a and a["error"] and a["error"]["code"] == "app_name_clash" for a in held)

    wait_until(both_held, timeout=30)
    error = apps(server)[("shared", "team-a")]["error"]
    assert error["kind"] == "Stalled" and "team-b" in error["message"]
    assert clean_engine.api.inspect_container("shared-1")["Id"] == before, "never replaced"
    with server.client() as api:
        assert api.get("/apps/shared").json()["error"] == "app_name_clash"
        one = api.get("/apps/shared", params={"source": "team-b"})
        assert one.status_code == 200 and one.json()["source"] == "team-b"
        deploy = api.post("/deploy", json={"name": "shared", "image": "gitberth/example-web:1.0"})
        assert deploy.status_code == 409 and deploy.json()["error"] == "app_name_clash"

    team_b.commit(remove=("deploy/shared.yaml",))
    assert hook(server, "team-b", secret=SECRETS["team-b"]).status_code == 202
    wait_until(lambda: synced(server, ("shared", "team-a")), timeout=30)
    assert ("shared", "team-b") not in apps(server)
    assert clean_engine.api.inspect_container("shared-1")["Id"] == before


def test_a_failing_source_holds_only_its_own_apps_while_the_other_applies(
    server: Server,
    served: tuple[GitDaemon, BareRepo, BareRepo],
    clean_engine: docker.DockerClient,
) -> None:
    _, team_a, team_b = served
    wait_until(lambda: synced(server, ("alpha", "team-a"), ("beta", "team-b")), timeout=40)
    team_b.commit({"deploy/epsilon.yaml": app_yaml("epsilon")}, remove=("deploy/beta.yaml",))
    hidden = team_b.path.with_name("team-b-hidden.git")
    shutil.move(team_b.path, hidden)  # the daemon no longer exports it: every fetch fails
    team_a.commit({"apps/delta.yaml": app_yaml("delta")}, remove=("apps/alpha.yaml",))

    assert hook(server, "team-b", secret=SECRETS["team-b"]).status_code == 202
    assert hook(server, "team-a", secret=SECRETS["team-a"]).status_code == 202
    wait_until(lambda: sources(server)["team-b"]["sourceError"], timeout=30)
    wait_until(lambda: synced(server, ("delta", "team-a")), timeout=30)
    wait_until(lambda: not running(clean_engine, "alpha-1"), timeout=20)
    assert running(clean_engine, "beta-1"), "the failing source's app keeps running"
    assert ("beta", "team-b") in apps(server)
    assert sources(server)["team-a"]["sourceError"] is None

    shutil.move(hidden, team_b.path)
    assert hook(server, "team-b", secret=SECRETS["team-b"]).status_code == 202
    wait_until(lambda: synced(server, ("epsilon", "team-b")), timeout=30)
    wait_until(lambda: not running(clean_engine, "beta-1"), timeout=30)
    assert sources(server)["team-b"]["sourceError"] is None


def test_a_deploy_commits_to_the_source_that_declares_the_app_and_new_apps_to_the_default(
    server: Server,
    served: tuple[GitDaemon, BareRepo, BareRepo],
    clean_engine: docker.DockerClient,
) -> None:
    _, team_a, team_b = served
    wait_until(lambda: synced(server, ("alpha", "team-a"), ("beta", "team-b")), timeout=40)
    with server.client() as api:
        beta = api.post(
            "/deploy",
            json={"name": "beta", "image": "gitberth/example-web:1.0", "env": {"V": "2"}},
        )
        fresh = api.post("/deploy", json={"name": "fresh", "image": "gitberth/example-web:1.0"})
    assert beta.status_code == 202, beta.text
    assert fresh.status_code == 202, fresh.text
    assert beta.json()["source"] == "team-b" and fresh.json()["source"] == "team-a"
    assert team_b.head().hexsha == beta.json()["revision"]
    assert "deploy/beta.yaml" in team_b.head().stats.files
    assert team_a.head().hexsha == fresh.json()["revision"]
    assert "apps/fresh.yaml" in team_a.head().stats.files
    wait_until(lambda: synced(server, ("beta", "team-b"), ("fresh", "team-a")), timeout=30)


def gitberth_status(server: Server) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GITBERTH, "status", "--state-dir", str(server.state_dir)],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_a_source_removed_from_the_config_leaves_status_and_apps_alike(
    server: Server, served: tuple[GitDaemon, BareRepo, BareRepo], tmp_path: Path
) -> None:
    wait_until(lambda: synced(server, ("alpha", "team-a"), ("beta", "team-b")), timeout=40)
    assert "beta" in gitberth_status(server).stdout

    config = tmp_path / "gitberth.yaml"
    text = write_config(config, served[0]).read_text()
    config.write_text(text[: text.index("  - name: team-b")])
    server.restart()

    wait_until(lambda: synced(server, ("alpha", "team-a")), timeout=40)
    assert set(apps(server)) == {("alpha", "team-a")}
    assert set(sources(server)) == {"team-a"}
    shown = gitberth_status(server)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = [line.split()[1] for line in shown.stdout.splitlines() if line.startswith("│")]
    assert rows == ["alpha"], shown.stdout
    # beta's container is not team-a's: it is left alone, and said so (not as an app row)
    assert "team-b" not in shown.stdout
