"""Private Git repositories: credentials from the secret store, against real Git servers.

Each test starts a real server on 127.0.0.1 (``git daemon``; ``git http-backend`` behind
lighttpd with basic auth; Debian's sshd with a key-only login) and a real ``gitberth serve``
following it. Credentials are sentinels: while the test runs, every process's argument list and
environment is sampled, and at the end the state dir and the server's log are searched; no
sentinel may be found anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.e2e.conftest import Server, StartServer, run_cli
from tests.support.gitrepo import app_yaml
from tests.support.gitservers import (
    BareRepo,
    GitDaemon,
    GitHttpServer,
    SshKey,
    SshServer,
    have,
)
from tests.support.secretstore import open_store
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

HOOK_SECRET = "hook-secret-for-private-repos"
CREDENTIALS = "git-creds"
SERVE_ARGS = ("--grace", "1", "--rollout-timeout", "10", "--interval", "3600")


class ProcessSampler:
    """Samples every process's argv and environment until stopped, collecting sentinel hits."""

    def __init__(self, sentinels: list[str]) -> None:
        self.sentinels = [s.encode() for s in sentinels]
        self.hits: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").iterdir():
                if not proc.name.isdigit():
                    continue
                for name in ("cmdline", "environ"):
                    try:
                        data = (proc / name).read_bytes()
                    except OSError:
                        continue
                    for sentinel in self.sentinels:
                        if sentinel in data:
                            self.hits.append(f"{name} of {data[:200]!r}")
            listing = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True).stdout
            self.hits += [f"ps: {s!r}" for s in self.sentinels if s in listing]
            self.samples += 1
            self._stop.wait(0.02)


def assert_nowhere(sentinels: list[str], *, server: Server, sampler: ProcessSampler) -> None:
    assert sampler.samples > 10 and sampler.hits == []
    logs = server.logs()
    for path in server.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for sentinel in sentinels:
                assert sentinel.encode() not in data, f"{sentinel[:4]}… found in {path}"
    for sentinel in sentinels:
        assert sentinel not in logs


def hook(server: Server) -> None:
    body = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()
    signature = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = httpx.post(
        f"{server.url}/hooks/git",
        content=body,
        headers={"x-hub-signature-256": f"sha256={signature}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text


def running(engine: docker.DockerClient, name: str) -> bool:
    rows = engine.api.containers(filters={"name": f"^/{name}$"})
    return bool(rows)


def loop_state(server: Server) -> dict[str, Any]:
    with server.client() as api:
        return dict(api.get("/apps").json()["sources"][0])


def source_error(server: Server) -> str:
    return str(loop_state(server).get("sourceError") or "")


def start(
    start_server: StartServer, *, url: str, data: dict[str, str] | None, extra: tuple[str, ...] = ()
) -> Server:
    def put_secret(state_dir: Path) -> None:
        if data is None:
            return
        store, db = open_store(state_dir)
        store.put(name=CREDENTIALS, app_id=None, data=data)
        db.close()

    credentials = ("--repo-credentials", CREDENTIALS) if data is not None else ()
    return start_server(
        setup=put_secret,
        repo=url,
        extra_args=(*SERVE_ARGS, "--webhook-secret", HOOK_SECRET, *credentials, *extra),
    )


def follow_clone_hook_and_deploy(
    server: Server, bare: BareRepo, engine: docker.DockerClient
) -> None:
    """The first app is cloned and applied; a pushed one arrives on a webhook; a deploy is
    pushed back to the server as a commit."""
    wait_until(lambda: running(engine, "first-1"), timeout=30)
    bare.commit({"apps/second.yaml": app_yaml("second")})
    hook(server)
    wait_until(lambda: running(engine, "second-1"), timeout=20)
    with server.client() as api:
        response = api.post(
            "/deploy", json={"name": "third", "image": "gitberth/example-web:1.0", "port": 8080}
        )
    assert response.status_code == 202, response.text
    head = bare.head()
    assert (head.hexsha, head.message.strip()) == (response.json()["revision"], "deploy third")
    wait_until(lambda: running(engine, "third-1"), timeout=20)


def refused_then_nothing_pruned(
    server: Server, bare: BareRepo, engine: docker.DockerClient, *, expect: str
) -> str:
    """A removal pushed while the credential is refused is not fetched: nothing is pruned."""
    bare.commit(remove=("apps/first.yaml",))
    hook(server)
    error = wait_until(lambda: expect in source_error(server) and source_error(server), timeout=20)
    assert running(engine, "first-1") and running(engine, "second-1")
    return str(error)


@pytest.fixture
def servers_dir(tmp_path: Path) -> Path:
    root = tmp_path / "served"
    root.mkdir()
    return root


@pytest.fixture
def bare(servers_dir: Path) -> BareRepo:
    repo = BareRepo.create(servers_dir, "deploys")
    repo.commit({"apps/first.yaml": app_yaml("first")})
    return repo


@pytest.fixture
def git_daemon(servers_dir: Path) -> Iterator[GitDaemon]:
    daemon = GitDaemon(servers_dir)
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture
def http_server(servers_dir: Path) -> Iterator[GitHttpServer]:
    if not have("lighttpd"):
        pytest.fail("lighttpd is missing: run scripts/bootstrap.sh")
    server = GitHttpServer(servers_dir, username="deployer", password="pw-SENTINEL-one-4b1d")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def ssh_server(servers_dir: Path) -> Iterator[SshServer]:
    if not have("/usr/sbin/sshd"):
        pytest.fail("openssh-server is missing: run scripts/bootstrap.sh")
    server = SshServer(servers_dir)
    yield server
    server.stop()


def test_a_public_repository_over_git_daemon_is_cloned_fetched_on_webhook_and_pushed_to(
    start_server: StartServer, git_daemon: GitDaemon, bare: BareRepo, clean_engine: Any
) -> None:
    server = start(start_server, url=git_daemon.url("deploys"), data=None)
    follow_clone_hook_and_deploy(server, bare, clean_engine)
    git_daemon.stop()
    refused_then_nothing_pruned(server, bare, clean_engine, expect="cannot fetch")
    git_daemon.start()
    hook(server)
    wait_until(lambda: not running(clean_engine, "first-1"), timeout=20)
    wait_until(lambda: source_error(server) == "")


def test_https_with_basic_auth_uses_the_secret_and_a_rotated_password_from_the_next_fetch(
    start_server: StartServer, http_server: GitHttpServer, bare: BareRepo, clean_engine: Any
) -> None:
    first_password, rotated = http_server.password, "pw-SENTINEL-two-77ce"
    sentinels = [first_password, rotated, "wrong-SENTINEL-a9"]
    with ProcessSampler(sentinels) as sampler:
        server = start(
            start_server,
            url=http_server.url("deploys"),
            data={"USERNAME": "deployer", "PASSWORD": first_password},
        )
        follow_clone_hook_and_deploy(server, bare, clean_engine)
        with server.client() as api:
            api.post(
                "/secrets",
                json={
                    "name": CREDENTIALS,
                    "data": {"USERNAME": "deployer", "PASSWORD": "wrong-SENTINEL-a9"},
                },
            ).raise_for_status()
        error = refused_then_nothing_pruned(
            server, bare, clean_engine, expect="authentication failed"
        )
        assert f"credentials secret {CREDENTIALS}" in error

        http_server.set_password(rotated)
        with server.client() as api:
            api.post(
                "/secrets",
                json={"name": CREDENTIALS, "data": {"USERNAME": "deployer", "TOKEN": rotated}},
            ).raise_for_status()
        wait_until(lambda: not running(clean_engine, "first-1"), timeout=20)
        wait_until(lambda: source_error(server) == "")
    assert_nowhere(sentinels, server=server, sampler=sampler)
    mirror_configs = list((server.state_dir / "repos").glob("*.git/config"))
    assert mirror_configs and all("deployer" not in p.read_text() for p in mirror_configs)


def test_ssh_with_a_deploy_key_pins_the_host_key_and_refuses_a_changed_one(
    start_server: StartServer,
    ssh_server: SshServer,
    bare: BareRepo,
    clean_engine: Any,
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    key = SshKey.generate(keys, "deploy")
    wrong = SshKey.generate(keys, "wrong")
    rotated = SshKey.generate(keys, "rotated", passphrase="phrase-SENTINEL-5e")
    ssh_server.authorize(key)
    ssh_server.start()
    sentinels = [key.sentinel, wrong.sentinel, rotated.sentinel, "phrase-SENTINEL-5e"]

    def secret(which: SshKey, **more: str) -> dict[str, str]:
        return {
            "SSH_PRIVATE_KEY": which.private,
            "KNOWN_HOSTS": ssh_server.known_hosts_line(),
            **more,
        }

    with ProcessSampler(sentinels) as sampler:
        server = start(start_server, url=ssh_server.url(bare), data=secret(key))
        follow_clone_hook_and_deploy(server, bare, clean_engine)
        with server.client() as api:
            api.post(
                "/secrets", json={"name": CREDENTIALS, "data": secret(wrong)}
            ).raise_for_status()
        error = refused_then_nothing_pruned(
            server, bare, clean_engine, expect="refused the SSH key"
        )
        assert f"credentials secret {CREDENTIALS}" in error

        ssh_server.authorize(rotated)
        with server.client() as api:
            rotated_secret = secret(rotated, SSH_PASSPHRASE="phrase-SENTINEL-5e")
            api.post(
                "/secrets", json={"name": CREDENTIALS, "data": rotated_secret}
            ).raise_for_status()
        wait_until(lambda: not running(clean_engine, "first-1"), timeout=20)
        wait_until(lambda: source_error(server) == "")

        ssh_server.stop()
        ssh_server.new_host_key()  # a server (or a man in the middle) with another host key
        ssh_server.start()
        bare.commit(remove=("apps/second.yaml",))
        hook(server)
        error = wait_until(
            lambda: "host key changed" in source_error(server) and source_error(server)
        )
        assert "refused" in error
        assert running(clean_engine, "second-1"), "nothing is pruned on a refused host key"

        elsewhere = ssh_server.known_hosts_line().replace(f":{ssh_server.port} ", ":1 ")
        unknown = {**rotated_secret, "KNOWN_HOSTS": elsewhere}
        with server.client() as api:
            api.post("/secrets", json={"name": CREDENTIALS, "data": unknown}).raise_for_status()
        error = wait_until(
            lambda: "not in KNOWN_HOSTS" in source_error(server) and source_error(server)
        )
        assert "unknown host key is refused" in error
        assert running(clean_engine, "second-1")
    assert_nowhere(sentinels, server=server, sampler=sampler)


def test_a_url_with_credentials_in_it_is_refused_and_the_secret_explained(tmp_path: Path) -> None:
    from tests.e2e.conftest import GITBERTH, free_port

    result = subprocess.run(
        [
            GITBERTH, "serve", "--state-dir", str(tmp_path / "state"),
            "--listen", f"127.0.0.1:{free_port()}",
            "--repo", "https://deployer:tok-SENTINEL-31@127.0.0.1:9/deploys.git",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "carries credentials" in message and "--repo-credentials" in message
    assert "USERNAME and PASSWORD" in message
    assert "tok-SENTINEL-31" not in result.stderr + result.stdout
    assert not list((tmp_path / "state").rglob("*.git"))


def test_while_sealed_fetching_pauses_with_a_reason_and_the_last_revision_stays_applied(
    start_server: StartServer, http_server: GitHttpServer, bare: BareRepo, clean_engine: Any
) -> None:
    printed: list[str] = []

    def init_shamir(state_dir: Path) -> None:
        args = ("init", "--state-dir", str(state_dir), "--shares", "1", "--threshold", "1")
        printed.append(run_cli(*args))

    server = start_server(
        setup=init_shamir,
        repo=http_server.url("deploys"),
        extra_args=(
            *SERVE_ARGS,
            "--webhook-secret",
            HOOK_SECRET,
            "--repo-credentials",
            CREDENTIALS,
        ),
    )
    share = re.findall(r"^share \d+: (\S+)$", printed[0], flags=re.MULTILINE)[0]
    assert "sealed" in wait_until(lambda: "sealed" in source_error(server) and source_error(server))
    with server.client() as api:
        assert api.post("/admin/unseal", json={"key": share}).json()["sealed"] is False
        data = {"USERNAME": "deployer", "PASSWORD": http_server.password}
        api.post("/secrets", json={"name": CREDENTIALS, "data": data}).raise_for_status()
    wait_until(lambda: running(clean_engine, "first-1"), timeout=30)

    with server.client() as api:
        api.post("/admin/seal").raise_for_status()
    bare.commit({"apps/second.yaml": app_yaml("second")}, remove=("apps/first.yaml",))
    hook(server)
    error = wait_until(lambda: "sealed" in source_error(server) and source_error(server))
    assert "pauses until an operator unseals" in error and CREDENTIALS in error
    assert running(clean_engine, "first-1") and not running(clean_engine, "second-1")

    with server.client() as api:
        assert api.post("/admin/unseal", json={"key": share}).json()["sealed"] is False
    hook(server)
    wait_until(lambda: running(clean_engine, "second-1") and not running(clean_engine, "first-1"))
    wait_until(lambda: source_error(server) == "")


def test_credentials_for_a_local_path_are_refused_as_a_mistake(tmp_path: Path) -> None:
    from tests.e2e.conftest import GITBERTH, free_port

    repo = BareRepo.create(tmp_path, "local")
    result = subprocess.run(
        [
            GITBERTH, "serve", "--state-dir", str(tmp_path / "state"),
            "--listen", f"127.0.0.1:{free_port()}",
            "--repo", str(repo.work.path), "--repo-credentials", CREDENTIALS,
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "is a local path: credentials are for a remote URL" in " ".join(result.stderr.split())
