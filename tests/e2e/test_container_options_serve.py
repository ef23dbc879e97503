"""Container options through ``gitberth serve``: POST /deploy refuses host-privilege fields and
the API's own port with a clear reason, ``--publish-address`` moves published ports, and
``GET /apps`` shows health as the engine reports it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import docker
import pytest

from tests.e2e.conftest import GITBERTH, Server, StartServer
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

CHECK = "healthcheck: {http: %s, interval: 300ms, timeout: 1s, retries: 2}\n"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repository = GitRepo(tmp_path / "repo")
    repository.commit({"README.md": "apps live in apps/\n"}, message="start")
    return repository


def app_of(server: Server, name: str) -> dict[str, object] | None:
    with server.client() as api:
        for app in api.get("/apps").json()["apps"]:
            if app["name"] == name:
                return dict(app)
    return None


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("privileged", True, "root on the host"),
        ("capAdd", ["SYS_ADMIN"], "escape to the host"),
        ("devices", ["/dev/sda:/dev/sda"], "host hardware"),
        ("networkMode", "host", "host's network namespace"),
        ("pid", "host", "host's PID namespace"),
        ("ipc", "host", "host's IPC namespace"),
    ],
)
def test_deploy_refuses_host_privileges_saying_why(
    start_server: StartServer,
    repo: GitRepo,
    clean_engine: docker.DockerClient,
    field: str,
    value: object,
    why: str,
) -> None:
    server = start_server(repo=repo.path)
    head = repo.repo.head.commit.hexsha
    body = {"name": "web", "image": "gitberth/example-web:1.0", field: value}
    with server.client() as api:
        response = api.post("/deploy", json=body)
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert problems == [f"apps/web.yaml: {field}: {problems[0].split(': ', 2)[2]}"]
    assert why in problems[0]
    assert repo.repo.head.commit.hexsha == head  # nothing was committed


def test_the_api_listen_port_cannot_be_a_host_port(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    server = start_server(repo=repo.path)
    body = {"name": "web", "image": "gitberth/example-web:1.0", "port": 8080}
    with server.client() as api:
        refused = api.post("/deploy", json={**body, "hostPort": server.port})
    assert refused.status_code == 400
    assert refused.json()["problems"] == [
        f"apps/web.yaml: hostPort: host port {server.port} is gitberth's own API port "
        "(serve --listen); pick another"
    ]

    repo.commit({"apps/web.yaml": app_yaml("web", extra=f"hostPort: {server.port}\n")})

    def held() -> dict[str, object] | None:
        app = app_of(server, "web")
        return app if app and app["error"] else None

    app = wait_until(held)
    assert app["sync"] == "Error"
    error = app["error"]
    assert isinstance(error, dict) and error["code"] == "invalid_manifest"
    assert f"apps/web.yaml:4:11: hostPort: host port {server.port}" in error["message"]
    assert not clean_engine.api.containers(all=True, filters={"label": "gitberth.app=web"})


def test_publish_address_moves_ports_and_the_urls_follow(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    repo.commit({"apps/web.yaml": app_yaml("web", extra=CHECK % "/")})
    server = start_server(repo=repo.path, extra_args=("--publish-address", "127.0.0.2"))

    def healthy() -> dict[str, object] | None:
        app = app_of(server, "web")
        return app if app and app["sync"] == "Synced" and app["health"] == "Healthy" else None

    app = wait_until(healthy, timeout=30)
    [container] = app["containers"]  # type: ignore[misc]
    assert container["health"] == "healthy"
    assert container["url"].startswith("http://127.0.0.2:")
    bindings = clean_engine.api.inspect_container("web-1")["HostConfig"]["PortBindings"]
    assert [b["HostIp"] for b in bindings["8080/tcp"]] == ["127.0.0.2"]


def test_status_shows_an_app_whose_check_fails_as_degraded_and_unhealthy(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    repo.commit({"apps/web.yaml": app_yaml("web", extra=CHECK % "/missing")})
    server = start_server(repo=repo.path)

    def degraded() -> dict[str, object] | None:
        app = app_of(server, "web")
        return app if app and app["sync"] == "Degraded" else None

    app = wait_until(degraded, timeout=30)
    assert app["health"] == "Unhealthy"
    error = app["error"]
    assert isinstance(error, dict) and "404 Not Found" in error["message"]
    [container] = app["containers"]  # type: ignore[misc]
    assert container["health"] == "unhealthy"

    status = subprocess.run(
        [GITBERTH, "status", "--state-dir", str(server.state_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "250"},
        check=False,
    )
    assert "Degraded" in status.stdout and "Unhealthy" in status.stdout
    assert "web-1 running (unhealthy)" in status.stdout


def test_a_container_turning_unhealthy_shows_in_status_from_the_engine_event(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    check = "healthcheck: {command: [test, -e, /ok], interval: 300ms, retries: 1}\n"
    command = "command: [sh, -c, 'touch /ok; trap \"exit 0\" TERM; sleep 100000 & wait']\n"
    repo.commit({"apps/job.yaml": app_yaml("job", port=None, extra=check + command)})
    # A long resync interval: only the engine's health_status event can refresh status in time.
    server = start_server(repo=repo.path, extra_args=("--interval", "600"))

    def health(expected: str) -> dict[str, object] | None:
        app = app_of(server, "job")
        return app if app and app["health"] == expected else None

    wait_until(lambda: health("Healthy"), timeout=30)
    clean_engine.api.exec_start(clean_engine.api.exec_create("job-1", ["rm", "/ok"]))

    app = wait_until(lambda: health("Unhealthy"), timeout=15)
    assert app["sync"] == "Degraded"
    error = app["error"]
    assert isinstance(error, dict) and error["message"] == "job-1 is unhealthy"


def test_status_prints_check_output_literally_even_when_it_looks_like_markup(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    check = (
        "healthcheck: {command: [sh, -c, 'echo \"[/] [bold]down[/bold]\"; exit 1'], "
        "interval: 300ms, retries: 1}\n"
    )
    repo.commit({"apps/job.yaml": app_yaml("job", port=None, extra=check)})
    server = start_server(repo=repo.path)
    wait_until(lambda: (app_of(server, "job") or {}).get("sync") == "Degraded", timeout=30)

    status = subprocess.run(
        [GITBERTH, "status", "--state-dir", str(server.state_dir)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "300"},
        check=False,
    )

    assert status.returncode == 1, status.stderr
    assert "[/] [bold]down[/bold]" in status.stdout
