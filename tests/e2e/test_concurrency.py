"""Deploys, secret writes and pushes racing against one real server: Git reads stay correct.

Every request thread and the loop read the repository at once; a shared reader used to give
them each other's answers (500s, and a loop that never applied a revision again).
"""

from __future__ import annotations

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import httpx
import pytest

from tests.e2e.conftest import Server, StartServer
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

APPS = 20
ROUNDS = 6
SECRET_WRITES = 40
PUSHES = 20


def git_cli(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def push_a_commit(clone: Path, relative: str, text: str) -> str:
    """Commit in a clone and push, rebasing when a deploy moved the branch first."""
    (clone / relative).parent.mkdir(parents=True, exist_ok=True)
    (clone / relative).write_text(text)
    git_cli(clone, "add", relative)
    git_cli(clone, "commit", "-q", "-m", f"add {relative}")
    for _ in range(50):
        pushed = subprocess.run(
            ["git", "-C", str(clone), "push", "-q", "origin", "main"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if pushed.returncode == 0:
            return git_cli(clone, "rev-parse", "HEAD")
        git_cli(clone, "pull", "-q", "--rebase", "origin", "main")
    raise AssertionError(f"could not push {relative}")


def is_ancestor(repo: Path, sha: str, tip: str) -> bool:
    return (
        subprocess.run(
            ["git", "-C", str(repo), "merge-base", "--is-ancestor", sha, tip], check=False
        ).returncode
        == 0
    )


def test_hundreds_of_racing_deploys_secret_writes_and_pushes_never_confuse_git_reads(
    tmp_path: Path, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    seed = GitRepo(tmp_path / "seed")
    seed.commit({"apps/seed.yaml": app_yaml("seed", replicas=0)})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(seed.path), str(origin)], check=True)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    git_cli(clone, "config", "user.name", "racer")
    git_cli(clone, "config", "user.email", "racer@gitberth.invalid")
    server: Server = start_server(repo=origin, extra_args=("--grace", "1"))

    deploys: list[tuple[int, str]] = []
    pushed: list[str] = []
    lock = threading.Lock()

    def deploy(client: httpx.Client, app: int, round_: int) -> None:
        body = {
            "name": f"burst-{app:02d}",
            "image": "gitberth/example-web:1.0",
            "replicas": 0,
            "env": {"ROUND": str(round_)},
        }
        response = client.post("/deploy", json=body)
        with lock:
            deploys.append((response.status_code, response.text))

    def write_secret(client: httpx.Client, n: int) -> None:
        response = client.post("/secrets", json={"name": "churn", "data": {"N": str(n)}})
        with lock:
            deploys.append((200 if response.status_code in (200, 201) else 500, response.text))

    def pusher() -> None:
        for n in range(PUSHES):
            sha = push_a_commit(clone, f"apps/direct-{n}.yaml", app_yaml(f"direct-{n}", replicas=0))
            with lock:
                pushed.append(sha)

    pushing = ThreadPoolExecutor(max_workers=1)

    with server.client() as client, ThreadPoolExecutor(max_workers=10) as pool:
        pushes = pushing.submit(pusher)
        futures = [
            pool.submit(deploy, client, app, round_)
            for round_ in range(ROUNDS)
            for app in range(APPS)
        ]
        futures += [pool.submit(write_secret, client, n) for n in range(SECRET_WRITES)]
        for future in futures:
            future.result()
        pushes.result()
        pushing.shutdown()

    failures = [(status, text) for status, text in deploys if status not in (200, 202)]
    assert failures == [], failures[:3]
    tip = git_cli(origin, "rev-parse", "main")
    revisions = [httpx.Response(202, text=text).json().get("revision") for _, text in deploys]
    for sha in [r for r in revisions if r] + pushed:
        assert is_ancestor(origin, sha, tip), f"commit {sha} was lost"

    # The loop is not wedged: a commit pushed after the storm is read, with no source error.
    final = push_a_commit(clone, "apps/final.yaml", app_yaml("final", replicas=0))
    with server.client() as client:

        def caught_up() -> bool:
            loop = client.get("/apps").json()["sources"][0]
            return bool(loop["revision"] == final and loop["sourceError"] is None)

        wait_until(caught_up, timeout=30)
        passes = client.get("/events", params={"limit": 200}).json()["passes"]
    assert [p["errors"] for p in passes if p["errors"]] == []
    assert "Traceback" not in server.logs()
