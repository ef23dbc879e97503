"""The hand-written docker SDK baseline that latency benchmarks compare gitberth against.

Same engine, same image, same run: stop and remove the running container, then run one with a
changed env — what a person scripting Docker by hand would do for one change.
"""

from __future__ import annotations

import os
import time
from typing import Any

import docker

IMAGE = "gitberth/example-web:1.0"
BASELINE_NAME = "bench-sdk-baseline"
BENCH_LABEL = "gitberth-bench"


def remove_labelled(client: docker.DockerClient, *labels: str) -> None:
    """Remove every container carrying one of *labels* (``key`` or ``key=value``)."""
    for label in labels:
        for row in client.api.containers(all=True, filters={"label": label}):
            client.api.remove_container(row["Id"], force=True)


def start_baseline(client: docker.DockerClient) -> None:
    run_baseline(client, value="start")


def run_baseline(client: docker.DockerClient, *, value: str) -> None:
    client.containers.run(
        IMAGE,
        name=BASELINE_NAME,
        detach=True,
        environment={"ROUND": value},
        ports={"8080/tcp": ("127.0.0.1", None)},
        labels={BENCH_LABEL: "1"},
    )


def sdk_replace_round(client: docker.DockerClient, value: int) -> float:
    """Seconds for one stop + remove + run of the baseline container with a new env value."""
    started = time.perf_counter()
    old = client.containers.get(BASELINE_NAME)
    old.stop(timeout=10)
    old.remove(force=True)
    run_baseline(client, value=str(value))
    return time.perf_counter() - started


SWARM_LISTEN_ENV = "GITBERTH_BENCH_SWARM_LISTEN"
SWARM_DATA_PATH_PORT_ENV = "GITBERTH_BENCH_SWARM_DATA_PATH_PORT"
SWARM_ADDR_POOL_ENV = "GITBERTH_BENCH_SWARM_ADDR_POOL"


def swarm_init_arguments() -> dict[str, Any]:
    """``swarm.init`` arguments for the bench's single-node swarm.

    Two engines on one host can each run a swarm only with their own data path port and
    address pool (else the second one's tasks fail: "error creating vxlan interface: file
    exists"), so each is overridable: ``GITBERTH_BENCH_SWARM_LISTEN`` (default
    127.0.0.1:2377), ``GITBERTH_BENCH_SWARM_DATA_PATH_PORT`` (default the engine's, 4789) and
    ``GITBERTH_BENCH_SWARM_ADDR_POOL`` (a CIDR; default the engine's, 10.0.0.0/8).
    """
    arguments: dict[str, Any] = {
        "advertise_addr": "127.0.0.1",
        "listen_addr": os.environ.get(SWARM_LISTEN_ENV, "127.0.0.1:2377"),
    }
    if os.environ.get(SWARM_DATA_PATH_PORT_ENV):
        arguments["data_path_port"] = int(os.environ[SWARM_DATA_PATH_PORT_ENV])
    if os.environ.get(SWARM_ADDR_POOL_ENV):
        arguments["default_addr_pool"] = [os.environ[SWARM_ADDR_POOL_ENV]]
        arguments["subnet_size"] = 24
    return arguments


def ensure_swarm(client: docker.DockerClient) -> bool:
    """Make the engine a single-node swarm manager unless it is one; True when this call did
    (the caller then leaves it afterwards)."""
    if client.info()["Swarm"]["LocalNodeState"] == "active":
        return False
    client.swarm.init(**swarm_init_arguments())
    return True
