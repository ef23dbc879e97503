"""Access to the real Docker engine the Makefile started, and clean-up by label."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import docker
import docker.errors

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_IMAGE = "gitberth/example-web:1.0"
STORE_IMAGE = "gitberth/example-store:1.0"
TEST_LABEL = "gitberth-test"


def engine() -> docker.DockerClient:
    """The engine at DOCKER_HOST; fail loudly (never skip) when it does not answer."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:  # pragma: no cover - environment problem
        raise RuntimeError(
            "no Docker engine answers at DOCKER_HOST; run the suite with `make test`, which "
            f"starts one ({exc})"
        ) from exc
    return client


def ensure_example_image(client: docker.DockerClient) -> None:
    """Build the example images (web and store, one script) when either is missing."""
    try:
        for image in (EXAMPLE_IMAGE, STORE_IMAGE):
            client.images.get(image)
    except docker.errors.ImageNotFound:
        subprocess.run([str(ROOT / "scripts" / "build-images.sh"), EXAMPLE_IMAGE], check=True)


def remove_managed_and_test_containers(client: docker.DockerClient) -> None:
    """Remove every gitberth-managed container and every container a test labelled."""
    for label in ("gitberth.app", TEST_LABEL):
        for row in client.api.containers(all=True, filters={"label": label}):
            try:
                client.api.remove_container(row["Id"], force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: its removal is already in progress
                    raise
    remove_managed_networks_and_volumes(client)


def remove_managed_networks_and_volumes(client: docker.DockerClient) -> None:
    """Remove the networks and volumes gitberth created (after their containers are gone)."""
    for row in client.api.networks(filters={"label": "gitberth.managed=true"}):
        try:
            client.api.remove_network(row["Id"])
        except docker.errors.APIError:
            pass  # gone, or a container removal still in progress: best effort
    for row in client.api.volumes(filters={"label": "gitberth.managed=true"}).get("Volumes") or []:
        try:
            client.api.remove_volume(row["Name"], force=True)
        except docker.errors.APIError:
            pass


DOCKERD_DIR = Path(os.environ.get("GITBERTH_DOCKERD_DIR", "/var/lib/gitberth-dockerd"))


def restart_dockerd() -> None:
    """Stop the private engine (SIGTERM, as a host shutdown would) and start it again."""
    pid = int((DOCKERD_DIR / "docker.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    time.sleep(1.0)
    subprocess.run([str(ROOT / "scripts" / "dockerd.sh")], check=True, timeout=60)
