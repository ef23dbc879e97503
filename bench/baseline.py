"""The hand-written docker SDK baseline that latency benchmarks compare gitberth against.

Same engine, same image, same run: stop and remove the running container, then run one with a
changed env — what a person scripting Docker by hand would do for one change.
"""

from __future__ import annotations

import time

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
