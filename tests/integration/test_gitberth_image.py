"""gitberth's own image, run the way the README says, against the tests' real engine.

The image is built from the top-level Dockerfile on a locally made Debian base
(``scripts/build-gitberth-image.sh``; cached by the hash of its inputs, so an unchanged tree
builds nothing). One container then runs ``gitberth serve`` configured only by ``GITBERTH_*``
variables, with the engine socket, a state volume, the example repo and the host's RAM-backed
secrets directory mounted at the same path (the engine resolves secret-file bind mounts on the
host). It must run the example app, deliver a secret written through its API as a file, stay
out of its own reconcile loop, and leave the apps running when it is stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from gitberth.defaults import DEFAULT_SECRETS_ROOT
from tests.support.engine import ROOT, TEST_LABEL
from tests.support.gitrepo import GitRepo
from tests.support.waiting import wait_until

# The first build on a machine (debootstrap, then pip) takes minutes; `make test` runs it before
# pytest, so here it is normally a cache hit.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

IMAGE_TAG = "gitberth:test"
IMAGE_UID = 10001
SENTINEL = "SENTINEL-image-file-31c4-plaintext"
FILES_APP = """\
name: files
image: gitberth/example-web:1.0
port: 8080
secretFiles: [image-tls]
"""


@pytest.fixture(scope="module")
def gitberth_image(docker_client: docker.DockerClient) -> str:
    """The image, built once per module (and not at all when its inputs are unchanged)."""
    built = subprocess.run(
        [str(ROOT / "scripts" / "build-gitberth-image.sh"), IMAGE_TAG],
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    assert built.returncode == 0, f"image build failed:\n{built.stderr[-3000:]}"
    return IMAGE_TAG


def engine_socket() -> Path:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    assert host.startswith("unix://"), "the image test mounts the engine's unix socket"
    return Path(host.removeprefix("unix://"))


@dataclass
class Deployment:
    container: docker.models.containers.Container
    url: str
    token: str
    repo: GitRepo

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {self.token}"}, timeout=30
        )


@pytest.fixture
def deployment(
    gitberth_image: str, clean_engine: docker.DockerClient, tmp_path: Path
) -> Iterator[Deployment]:
    """gitberth's container on the example repo (plus an app that needs a secret file)."""
    repo = GitRepo(tmp_path / "repo")
    shutil.copytree(ROOT / "examples" / "quickstart", repo.path, dirs_exist_ok=True)
    repo.repo.git.add(A=True)
    repo.commit({"apps/files.yaml": FILES_APP}, message="example apps")
    secrets_root = Path(os.environ.get("GITBERTH_SECRETS_DIR") or DEFAULT_SECRETS_ROOT)
    secrets_dir = secrets_root / f"image-{uuid.uuid4().hex[:8]}"
    secrets_dir.mkdir(mode=0o700)
    os.chown(secrets_dir, IMAGE_UID, IMAGE_UID)
    socket = engine_socket()
    volume = clean_engine.volumes.create(name=f"gitberth-image-test-{uuid.uuid4().hex[:8]}")
    token = "image-" + uuid.uuid4().hex
    container = clean_engine.containers.run(
        gitberth_image,
        detach=True,
        name=f"gitberth-image-test-{uuid.uuid4().hex[:8]}",
        labels={TEST_LABEL: "gitberth-image"},
        environment={
            "GITBERTH_REPO": "/repo",
            "GITBERTH_TOKEN": token,
            "GITBERTH_SECRETS_DIR": str(secrets_dir),
            "GITBERTH_GRACE": "2",
        },
        volumes={
            str(socket): {"bind": "/var/run/docker.sock", "mode": "rw"},
            volume.name: {"bind": "/var/lib/gitberth", "mode": "rw"},
            str(secrets_dir): {"bind": str(secrets_dir), "mode": "rw"},
            str(repo.path): {"bind": "/repo", "mode": "rw"},
        },
        group_add=[str(socket.stat().st_gid)],
        ports={"8700/tcp": ("127.0.0.1", None)},
    )
    try:
        container.reload()
        port = container.ports["8700/tcp"][0]["HostPort"]
        yield Deployment(
            container=container, url=f"http://127.0.0.1:{port}", token=token, repo=repo
        )
    finally:
        logs = container.logs().decode(errors="replace")
        container.remove(force=True)
        volume.remove(force=True)
        shutil.rmtree(secrets_dir, ignore_errors=True)
        assert SENTINEL not in logs


def app_containers(client: httpx.Client, app: str) -> list[dict[str, object]]:
    response = client.get(f"/apps/{app}")
    if response.status_code != 200:
        return []
    containers = response.json().get("containers", [])
    running = [c for c in containers if c.get("state") == "running" and c.get("url")]
    return running


def test_the_image_runs_the_example_repo_and_outlives_nothing(
    deployment: Deployment, docker_client: docker.DockerClient
) -> None:
    image = docker_client.images.get(IMAGE_TAG)
    assert image.attrs["Config"]["User"] == "gitberth"
    assert image.attrs["Config"]["Healthcheck"]["Test"][0] == "CMD"
    assert image.attrs["Config"]["StopSignal"] == "SIGTERM"
    assert "org.opencontainers.image.revision" in image.attrs["Config"]["Labels"]
    assert not [k for k in deployment.container.labels if k.startswith("gitberth.")], (
        "gitberth's own container must never look like one it manages"
    )
    exec_tools = deployment.container.exec_run(
        ["sh", "-c", "command -v gcc pip pytest ruff || true"], user="gitberth"
    )
    assert exec_tools.output.decode().strip() == "", "no build or test tool in the image"

    def answers() -> bool:
        try:
            return httpx.get(f"{deployment.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=60, interval=0.3)
    with deployment.client() as client:
        hello = wait_until(lambda: app_containers(client, "hello"), timeout=60)
        page = httpx.get(f"{hello[0]['url']}/cgi-bin/index.cgi", timeout=5)
        assert page.status_code == 200 and "APP_TITLE" in page.text

        status = client.get("/apps/files").json()
        assert "image-tls" in str(status), "held until its secret exists"
        written = client.post("/secrets", json={"name": "image-tls", "data": {"CERT": SENTINEL}})
        assert written.status_code == 201, written.text
        files = wait_until(lambda: app_containers(client, "files"), timeout=60)
    consumer = docker_client.containers.get(str(files[0]["name"]))
    assert consumer.exec_run(["cat", "/run/secrets/CERT"]).output.decode() == SENTINEL
    assert "CERT" in httpx.get(f"{files[0]['url']}/cgi-bin/index.cgi", timeout=5).text

    def healthy() -> bool:
        deployment.container.reload()
        return deployment.container.attrs["State"]["Health"]["Status"] == "healthy"

    wait_until(healthy, timeout=60, interval=0.5)

    apps_before = {
        c.name: c.id for c in docker_client.containers.list(filters={"label": "gitberth.app"})
    }
    assert {"hello-1", "files-1"} <= set(apps_before)
    deployment.container.stop(timeout=20)
    deployment.container.reload()
    assert deployment.container.attrs["State"]["ExitCode"] == 0, "a clean SIGTERM shutdown"
    apps_after = {
        c.name: c.id for c in docker_client.containers.list(filters={"label": "gitberth.app"})
    }
    assert apps_after == apps_before, "stopping gitberth leaves its apps running"
