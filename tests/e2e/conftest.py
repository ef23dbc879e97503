"""A real ``gitberth serve`` in a subprocess on a free 127.0.0.1 port, with a temp state dir.

Tests talk to it over HTTP exactly as users do (httpx, curl, the CLI). The server's stdout and
stderr go to one log file per server, kept across restarts, so a test can search every line the
server ever logged.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

GITBERTH = str(Path(sys.executable).with_name("gitberth"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run ``gitberth ARGS`` and return stdout; fail the test with stderr when it exits non-zero."""
    result = subprocess.run(
        [GITBERTH, *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"gitberth {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


@dataclass
class Server:
    """One ``gitberth serve`` process (restartable on the same state dir and port)."""

    state_dir: Path
    log_path: Path
    token: str = field(default_factory=lambda: "admin-" + secrets.token_urlsafe(24))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    repo: Path | str | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                GITBERTH,
                "serve",
                "--state-dir",
                str(self.state_dir),
                "--listen",
                f"127.0.0.1:{self.port}",
                *(["--repo", str(self.repo)] if self.repo is not None else []),
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GITBERTH_TOKEN": self.token},
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gitberth serve exited:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"gitberth serve did not answer within 30 s:\n{self.logs()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def cli_env(self, token: str | None = None) -> dict[str, str]:
        return {"GITBERTH_API": self.url, "GITBERTH_TOKEN": token or self.token}

    def create_token(self, *args: str) -> str:
        return run_cli("token", "create", "--state-dir", str(self.state_dir), *args).strip()


StartServer = Callable[..., Server]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers for this test (optionally after a setup step on the state dir)."""
    servers: list[Server] = []

    def start(
        *,
        name: str = "server",
        setup: Callable[[Path], Any] | None = None,
        repo: Path | str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> Server:
        state_dir = tmp_path / name / "state"
        if setup is not None:
            setup(state_dir)
        server = Server(
            state_dir=state_dir,
            log_path=tmp_path / name / "server.log",
            repo=repo,
            extra_args=extra_args,
        )
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> Server:
    """A server in the default setup (auto-unseal) on an empty state dir."""
    return start_server()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by a whole module (for fuzzing)."""
    base = tmp_path_factory.mktemp("module-server")
    server = Server(state_dir=base / "state", log_path=base / "server.log")
    server.start()
    yield server
    server.stop()


WEBHOOK_SECRET = "webhook-secret-for-tests"


@pytest.fixture(scope="module")
def module_repo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with ``--repo`` (a real temp Git repo with one app) and a webhook secret,
    shared by a whole module, so the loop's routes (/apps, /events, /metrics, /hooks/git and a
    real /deploy) exist. Its apps are removed from the engine afterwards."""
    from tests.support.engine import engine, remove_managed_and_test_containers
    from tests.support.gitrepo import GitRepo, app_yaml

    base = tmp_path_factory.mktemp("module-repo-server")
    repo = GitRepo(base / "repo")
    repo.commit({"apps/app1.yaml": app_yaml("app1", image="gitberth/missing-image:1")})
    client = engine()
    server = Server(
        state_dir=base / "state",
        log_path=base / "server.log",
        repo=repo.path,
        extra_args=("--grace", "1", "--rollout-timeout", "5", "--webhook-secret", WEBHOOK_SECRET),
    )
    server.start()
    yield server
    server.stop()
    remove_managed_and_test_containers(client)
