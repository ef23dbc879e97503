"""A real image registry on 127.0.0.1: Debian's ``docker-registry`` with htpasswd (bcrypt)
authentication, storage in a temp dir. The engine treats 127.0.0.0/8 registries as insecure
by default, so no TLS is needed. Nothing here talks to any other address."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker

CONFIG = """\
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
auth:
  htpasswd:
    realm: gitberth-test
    path: {htpasswd}
"""


@dataclass(frozen=True)
class Registry:
    host: str  # 127.0.0.1:PORT
    username: str
    password: str

    def push(self, client: docker.DockerClient, *, source: str, repository: str, tag: str) -> str:
        """Push local image *source* as ``host/repository:tag``; untag it locally so a
        container of it needs a pull; return the pushed image's ``repo@sha256:`` digest."""
        target = f"{self.host}/{repository}"
        client.images.get(source).tag(target, tag)
        auth = {"username": self.username, "password": self.password}
        for line in client.api.push(target, tag, auth_config=auth, stream=True, decode=True):
            if "error" in line:
                raise RuntimeError(f"push failed: {line['error']}")
        digests = client.images.get(f"{target}:{tag}").attrs.get("RepoDigests") or []
        digest = next(d for d in digests if d.startswith(target + "@"))
        client.images.remove(f"{target}:{tag}")
        return str(digest)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1)
    except urllib.error.HTTPError as exc:
        return exc.code == 401  # up, and asking for credentials
    except OSError:
        return False
    return False


@contextmanager
def running_registry(directory: Path, *, username: str, password: str) -> Iterator[Registry]:
    """Start a registry with one user; stop it and delete its storage afterwards."""
    binary = shutil.which("docker-registry")
    htpasswd = shutil.which("htpasswd")
    if binary is None or htpasswd is None:  # pragma: no cover - environment problem
        raise RuntimeError("install docker-registry and apache2-utils (scripts/bootstrap.sh)")
    directory.mkdir(parents=True, exist_ok=True)
    passwords = directory / "htpasswd"
    subprocess.run(
        [htpasswd, "-Bbc", str(passwords), username, password], check=True, capture_output=True
    )
    port = _free_port()
    config = directory / "config.yml"
    config.write_text(CONFIG.format(storage=directory / "storage", port=port, htpasswd=passwords))
    log = (directory / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while not _answers(f"http://127.0.0.1:{port}/v2/"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "the registry did not start: " + (directory / "registry.log").read_text()
                )
            time.sleep(0.1)
        yield Registry(f"127.0.0.1:{port}", username, password)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
