"""The fault suite: a real ``gitberth serve`` hit by what production does to it.

The engine restarted during a rollout; the server killed (``kill -9``) in each phase of a
replace; the state dir full; a corrupt Git object; a storm of webhooks. After each: no duplicate
or orphan container, no secret lost, no deploy commit lost, and convergence within the retry
bound. Only this test session's own engine (``GITBERTH_DOCKERD_DIR``) is ever restarted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from gitberth.faults import ENV as KILL_AT
from tests.e2e.conftest import Server, StartServer
from tests.support.engine import restart_dockerd
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

FAST = ("--grace", "1", "--rollout-timeout", "10", "--interval", "30")
SECRETS_ROOT = Path("/dev/shm")
"""A RAM-backed root of this suite's own (others' servers sweep the shared default root)."""
RETRY_BOUND = 30.0
"""Seconds within which every fault here must be repaired (the loop's retry max is 30 s)."""


def containers(client: docker.DockerClient) -> dict[str, tuple[str, str]]:
    """Every gitberth container: name -> (state, env line V=...)."""
    rows = client.api.containers(all=True, filters={"label": "gitberth.app"})
    found = {}
    for row in rows:
        try:
            env = client.api.inspect_container(row["Id"])["Config"]["Env"] or []
        except docker.errors.NotFound:
            continue  # removed meanwhile: the loop is at work
        found[row["Names"][0].lstrip("/")] = (
            str(row["State"]),
            next((e for e in env if e.startswith("V=")), ""),
        )
    return found


def converged_to(client: docker.DockerClient, version: str) -> bool:
    return containers(client) == {"web-1": ("running", f"V={version}")}


def secret_dirs(server: Server) -> list[Path]:
    root = SECRETS_ROOT / f"gitberth-faults-{server.port}"
    return sorted(root.iterdir()) if root.is_dir() else []


@pytest.fixture
def secrets_root() -> Iterator[None]:
    yield
    for directory in SECRETS_ROOT.glob("gitberth-faults-*"):
        shutil.rmtree(directory, ignore_errors=True)


def serve(start_server: StartServer, repo: Path | str, *extra: str, name: str = "server") -> Server:
    server = start_server(name=name, repo=repo, extra_args=(*FAST, *extra))
    return server


def with_secrets_dir(server: Server) -> tuple[str, ...]:
    return ("--secrets-dir", str(SECRETS_ROOT / f"gitberth-faults-{server.port}"))


@pytest.mark.parametrize("phase", ["created", "started", "old-stopped"])
def test_kill_9_in_each_phase_of_a_replace_loses_nothing_and_converges(
    phase: str,
    git_repo: GitRepo,
    start_server: StartServer,
    clean_engine: docker.DockerClient,
    secrets_root: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    git_repo.commit({"README.md": "apps\n"})
    monkeypatch.setenv(KILL_AT, phase)
    server = Server(
        state_dir=git_repo.path.parent / "state",
        log_path=git_repo.path.parent / "server.log",
        repo=git_repo.path,
    )
    server.extra_args = (*FAST, *with_secrets_dir(server))
    server.start()
    try:
        with server.client() as api:
            assert api.post("/secrets", json={"name": "tls", "data": {"KEY": "k1"}}).status_code
            first = {"name": "web", "image": "gitberth/example-web:1.0", "port": 8080}
            body = {**first, "env": {"V": "1"}, "secretFiles": ["tls"]}
            assert api.post("/deploy", json=body).status_code == 202
            assert converged_to(clean_engine, "1")
            with pytest.raises(httpx.HTTPError):  # the server dies in the middle of it
                api.post("/deploy", json={**body, "env": {"V": "2"}})
        assert server.process is not None
        assert server.process.wait(timeout=30) == -signal.SIGKILL
        assert f"{KILL_AT}={phase}" in server.logs()
        server.process = None

        monkeypatch.delenv(KILL_AT)
        server.start()
        wait_until(lambda: converged_to(clean_engine, "2"), timeout=RETRY_BOUND)
        log = git_repo.repo.git.log("--format=%s", "main")
        assert log.splitlines()[:2] == ["deploy web", "deploy web"]  # no deploy commit lost
        with server.client() as api:
            assert [s["name"] for s in api.get("/secrets").json()["secrets"]] == ["tls"]
        assert len(wait_until(lambda: len(secret_dirs(server)) == 1 and secret_dirs(server))) == 1
        web = clean_engine.containers.get("web-1")
        assert web.exec_run(["cat", "/run/secrets/KEY"]).output == b"k1"
    finally:
        server.stop()


def test_the_engine_restarted_during_a_rollout_converges_without_duplicates(
    git_repo: GitRepo, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "1"})})
    serve(start_server, git_repo.path)
    wait_until(lambda: converged_to(clean_engine, "1"))
    slow = "command: [sh, -c, 'sleep 3; exec sh /serve.sh']\n"
    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "2"}, extra=slow)})
    wait_until(lambda: "web-1-next" in containers(clean_engine), timeout=10)

    restart_dockerd()

    wait_until(lambda: converged_to(clean_engine, "2"), timeout=RETRY_BOUND + 10)


def test_a_full_state_dir_refuses_writes_clearly_keeps_every_secret_and_recovers(
    tmp_path: Path,
    git_repo: GitRepo,
    start_server: StartServer,
    clean_engine: docker.DockerClient,
) -> None:
    mounted: list[Path] = []

    def small_tmpfs(state_dir: Path) -> None:
        state_dir.mkdir(parents=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(state_dir)],
            check=True,
        )
        mounted.append(state_dir)

    try:
        git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "1"})})
        server = start_server(name="full", repo=git_repo.path, extra_args=FAST, setup=small_tmpfs)
        state = server.state_dir
        wait_until(lambda: converged_to(clean_engine, "1"))
        with server.client() as api:
            assert (
                api.post("/secrets", json={"name": "kept", "data": {"A": "1"}}).status_code == 201
            )
            filler = state / "filler"
            with filler.open("wb") as handle:
                try:
                    while True:
                        handle.write(b"\0" * 65536)
                        handle.flush()
                except OSError:
                    pass

            refused = api.post("/secrets", json={"name": "more", "data": {"B": "x" * 60000}})
            assert refused.status_code == 507, refused.text
            assert refused.json()["error"] == "storage_full"
            git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "2"})})
            wait_until(lambda: converged_to(clean_engine, "2"), timeout=RETRY_BOUND)

            filler.unlink()
            assert (
                api.post("/secrets", json={"name": "more", "data": {"B": "y"}}).status_code == 201
            )
            names = sorted(s["name"] for s in api.get("/secrets").json()["secrets"])
            assert names == ["kept", "more"]
            git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "3"})})
            wait_until(lambda: converged_to(clean_engine, "3"), timeout=RETRY_BOUND)
        server.stop()
    finally:
        for path in mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def corrupt_object(repo: GitRepo, sha: str) -> None:
    path = repo.path / ".git" / "objects" / sha[:2] / sha[2:]
    path.chmod(0o644)
    path.write_bytes(zlib.compress(b"blob 5\0")[:-4] + b"garbage")


def test_a_corrupt_git_object_keeps_the_last_good_revision_until_a_commit_repairs_it(
    git_repo: GitRepo, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    good = git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "1"})})
    server = serve(start_server, git_repo.path)
    wait_until(lambda: converged_to(clean_engine, "1"))
    before = clean_engine.containers.get("web-1").id
    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "2"})})
    blob = git_repo.repo.git.rev_parse("HEAD:apps/web.yaml")
    corrupt_object(git_repo, blob)
    git_repo.commit({"apps/other.yaml": app_yaml("other", replicas=0)})  # wakes the loop

    with server.client() as api:
        loop = wait_until(
            lambda: (body := api.get("/apps").json()["sources"][0])["sourceError"] and body
        )
        assert loop["revision"] == good
        assert clean_engine.containers.get("web-1").id == before

        git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "3"})})
        wait_until(lambda: converged_to(clean_engine, "3"), timeout=RETRY_BOUND)
        wait_until(lambda: api.get("/apps").json()["sources"][0]["sourceError"] is None)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_webhook_storm_is_coalesced_into_few_passes_in_bounded_memory(
    git_repo: GitRepo, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web", replicas=0)})
    server = serve(
        start_server, f"file://{git_repo.path}", "--webhook-secret", "storm", name="storm"
    )
    assert server.process is not None
    with server.client() as api:
        wait_until(lambda: api.get("/apps").json()["sources"][0]["revision"])
        passes_before = len(api.get("/events", params={"limit": 200}).json()["passes"])
    memory_before = rss_kib(server.process.pid)
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = "sha256=" + hmac.new(b"storm", body, hashlib.sha256).hexdigest()
    final = git_repo.commit({"apps/late.yaml": app_yaml("late", replicas=0)})

    def deliver(_: int) -> int:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            statuses = [
                client.post(
                    "/hooks/git", content=body, headers={"x-hub-signature-256": signature}
                ).status_code
                for _ in range(100)
            ]
        return sum(1 for s in statuses if s == 202)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        accepted = sum(pool.map(deliver, range(10)))
    assert accepted == 1000
    took = time.monotonic() - started

    with server.client() as api:
        wait_until(lambda: api.get("/apps").json()["sources"][0]["revision"] == final)
        passes = api.get("/events", params={"limit": 200}).json()["passes"]
    storm_passes = len(passes) - passes_before
    assert storm_passes < 100, f"{storm_passes} passes for 1,000 webhooks in {took:.1f}s"
    assert rss_kib(server.process.pid) - memory_before < 50 * 1024
    assert os.path.exists(git_repo.path)
