"""What people run instead of gitberth: Debian's docker-compose and ``docker stack deploy``.

Both are driven as their users drive them, by the command line on a YAML file, on the same
engine and image as gitberth. Each service runs the example web image with a published port,
like the apps gitberth deploys in the same run.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import docker

IMAGE = "gitberth/example-web:1.0"


LARGE_PROJECT_SERVICES = 250
"""A project's default network gets a subnet from the engine's pool, a /24 here (the pools
gitberth's engines are started with, and Docker's own for most networks): 253 addresses. A
project of more services than that is given a larger subnet of its own."""
LARGE_PROJECT_SUBNET_ENV = "GITBERTH_BENCH_COMPOSE_SUBNET"
LARGE_PROJECT_SUBNET = "10.250.0.0/20"
"""4,094 addresses; ``GITBERTH_BENCH_COMPOSE_SUBNET`` moves it off a range in use."""


def compose_file(*, services: int, changed_value: str, prefix: str = "svc") -> str:
    """A compose file of *services* services; the first one's ``ROUND`` is *changed_value*.

    Changing that one line is the edit every round makes; ``up -d`` must then recreate exactly
    one container among *services*.
    """
    lines = ["version: '3.8'", "services:"]
    for index in range(services):
        lines += [
            f"  {prefix}{index:04d}:",
            f"    image: {IMAGE}",
            "    ports: ['127.0.0.1::8080']",
        ]
        if index == 0:
            lines += ["    environment:", f"      ROUND: '{changed_value}'"]
    if services > LARGE_PROJECT_SERVICES:
        subnet = os.environ.get(LARGE_PROJECT_SUBNET_ENV, LARGE_PROJECT_SUBNET)
        lines += [
            "networks:",
            "  default:",
            "    ipam:",
            "      config:",
            f"        - subnet: {subnet}",
        ]
    return "\n".join(lines) + "\n"


def parallel_limit(project_dir: Path) -> int:
    """docker-compose 1.x deadlocks on ``up`` when a project has more services than its
    parallel limit (64): service-level tasks hold every slot while waiting for their
    container-level tasks. Its documented remedy is a limit above the service count."""
    file = project_dir / "docker-compose.yml"
    services = file.read_text().count(f"    image: {IMAGE}") if file.exists() else 0
    return max(64, 2 * services + 8)


COMPOSE_HTTP_TIMEOUT = 900
"""Seconds docker-compose waits for one engine answer (its default is 60). With a parallel
limit above a large project's service count, ``up`` sends hundreds of requests at once and
the engine answers the last of them minutes later: 500 services failed with "Read timed
out", and compose's own message says to raise this."""


def compose_environment(project_dir: Path) -> dict[str, str]:
    """The environment docker-compose runs in: the parallel limit and HTTP timeout a project
    of this size needs to finish at all."""
    return {
        **os.environ,
        "COMPOSE_PARALLEL_LIMIT": str(parallel_limit(project_dir)),
        "COMPOSE_HTTP_TIMEOUT": str(COMPOSE_HTTP_TIMEOUT),
    }


def compose(project_dir: Path, *arguments: str) -> None:
    done = subprocess.run(
        ["docker-compose", "--no-ansi", "-p", project_dir.name, *arguments],
        cwd=project_dir,
        env=compose_environment(project_dir),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker-compose {' '.join(arguments)}: {done.stderr[-800:]}")


def compose_up(project_dir: Path, *, services: int, value: str) -> float:
    """Write the file with ``ROUND=value`` and time ``docker-compose up -d``."""
    project_dir.mkdir(parents=True, exist_ok=True)
    (project_dir / "docker-compose.yml").write_text(
        compose_file(services=services, changed_value=value)
    )
    started = time.perf_counter()
    compose(project_dir, "up", "-d")
    return time.perf_counter() - started


COMPOSE_UP_RUNS = 3
"""How many times :func:`compose_up_until_up` runs ``up -d`` before giving up."""


def compose_up_until_up(project_dir: Path, *, services: int, value: str) -> tuple[float, int]:
    """Time ``docker-compose up -d`` until every service is up, running it again after a
    failure, as its user would: ``up -d`` starts only what is missing. Returns the seconds of
    every run together (a failed run's time counts) and how many runs it took.

    At about 1,000 services docker-compose 1.29 breaks its own connection pool ("Pool is
    closed": the docker SDK keeps one pool per URL and closes the oldest beyond 25 while
    another thread still sends on it), so a single run rarely finishes; a second one does.
    """
    total, runs = 0.0, 0
    while True:
        runs += 1
        started = time.perf_counter()
        try:
            compose_up(project_dir, services=services, value=value)
        except RuntimeError:
            if runs == COMPOSE_UP_RUNS:
                raise
            continue
        finally:
            total += time.perf_counter() - started
        return total, runs


def compose_down(project_dir: Path) -> None:
    if (project_dir / "docker-compose.yml").exists():
        compose(project_dir, "down", "--remove-orphans", "--timeout", "2")


def stack_file(value: str) -> str:
    return (
        "version: '3.8'\nservices:\n  web:\n"
        f"    image: {IMAGE}\n"
        "    environment:\n"
        f"      ROUND: '{value}'\n"
        "    deploy:\n      update_config: {order: start-first}\n"
    )


def stack_deploy_round(client: docker.DockerClient, project_dir: Path, *, value: str) -> float:
    """Time ``docker stack deploy`` of a changed env until the new task is running.

    ``stack deploy`` returns as soon as the swarm accepted the spec; what a user waits for is
    the new container, so the clock stops when a running task carries the new value.
    """
    project_dir.mkdir(parents=True, exist_ok=True)
    (project_dir / "stack.yml").write_text(stack_file(value))
    stack = project_dir.name
    started = time.perf_counter()
    done = subprocess.run(
        ["docker", "stack", "deploy", "-c", "stack.yml", stack],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker stack deploy: {done.stderr[-800:]}")
    wanted = f"ROUND={value}"
    while time.perf_counter() - started < 120:
        service = client.services.get(f"{stack}_web")
        for task in service.tasks(filters={"desired-state": "running"}):
            env = task["Spec"]["ContainerSpec"].get("Env", [])
            if wanted in env and task["Status"]["State"] == "running":
                return time.perf_counter() - started
        time.sleep(0.02)
    raise RuntimeError(f"stack {stack} did not run {wanted} within 120 s")


def stack_remove(project_dir: Path) -> None:
    subprocess.run(["docker", "stack", "rm", project_dir.name], capture_output=True, check=False)
