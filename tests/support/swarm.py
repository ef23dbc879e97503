"""A single-node Swarm of the tests' own, beside the main test engine.

The Docker runtime's tests keep the main engine (``DOCKER_HOST``); the Swarm runtime's tests run
on a second engine that ``scripts/swarm-engine.sh`` starts and turns into a one-node swarm, with
its own data directory, bridge, Raft port, data-path port and address pool (all overridable by
``GITBERTH_SWARM_*`` variables, so several people can test side by side).
``GITBERTH_SWARM_DOCKER_HOST`` points the tests at a swarm manager that already runs instead.
"""

from __future__ import annotations

import functools
import os
import subprocess
import time

import docker
import docker.errors

from tests.support.engine import EXAMPLE_IMAGE, ROOT, STORE_IMAGE

MANAGED = "gitberth.managed=true"


@functools.cache
def swarm_host() -> str:
    """The swarm manager's DOCKER_HOST, starting the tests' own when none is given."""
    given = os.environ.get("GITBERTH_SWARM_DOCKER_HOST")
    if given:
        return given
    done = subprocess.run(
        [str(ROOT / "scripts" / "swarm-engine.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/swarm-engine.sh failed:\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def swarm_engine() -> docker.DockerClient:
    """A client of the tests' swarm manager, with the example images built on it."""
    host = swarm_host()
    client = docker.DockerClient(base_url=host)
    try:
        for image in (EXAMPLE_IMAGE, STORE_IMAGE):
            client.images.get(image)
    except docker.errors.ImageNotFound:
        subprocess.run(
            [str(ROOT / "scripts" / "build-images.sh"), EXAMPLE_IMAGE],
            check=True,
            env={**os.environ, "DOCKER_HOST": host},
        )
    return client


def connect() -> docker.DockerClient:
    """A new client of the tests' swarm manager (for event streams and log followers)."""
    return docker.DockerClient(base_url=swarm_host())


def remove_gitberth_services(client: docker.DockerClient) -> None:
    """Remove every gitberth service, then (once their tasks are gone) the secret versions,
    overlay networks and volumes gitberth created (a test's source id differs from the next
    one's, so a volume left behind would be refused as another source's)."""
    for service in client.api.services(filters={"label": "gitberth.app"}):
        try:
            client.api.remove_service(service["ID"])
        except docker.errors.NotFound:
            pass
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tasks = [
            t
            for t in client.api.tasks()
            if (t.get("Status") or {}).get("State") not in ("shutdown", "complete", "failed")
            or t.get("DesiredState") == "running"
        ]
        if not tasks and not client.api.containers(
            filters={"label": "com.docker.swarm.service.id"}
        ):
            break
        time.sleep(0.2)
    for secret in client.api.secrets(filters={"label": MANAGED}):
        try:
            client.api.remove_secret(secret["ID"])
        except docker.errors.APIError:
            pass
    for network in client.api.networks(filters={"label": MANAGED}):
        try:
            client.api.remove_network(network["Id"])
        except docker.errors.APIError:
            pass
    for volume in client.api.volumes(filters={"label": MANAGED}).get("Volumes") or []:
        try:
            client.api.remove_volume(volume["Name"], force=True)
        except docker.errors.APIError:
            pass
