"""How the engine's own operations cost more as apps accumulate (no gitberth involved).

Adds apps the way gitberth lays them out (one bridge network per app, one container with a
port published on 127.0.0.1 on it), four at a time, and at each step times, one at a time:
listing networks by name, creating a network, creating and starting a container on it, and
removing both. Everything it creates carries the label ``engine-growth`` and is removed at
the end. On dockerd 20.10 with iptables (nft) every network create and remove runs a dozen
iptables commands whose cost grows with the host's rule set, so converging n new apps costs
O(n^2) in the engine whatever the client does.

Run: DOCKER_HOST=... .venv/bin/python bench/engine_growth.py 0 250 500 750
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker

IMAGE = "gitberth/example-web:1.0"
LABELS = {"engine-growth": "1"}


def add(api: Any, name: str) -> str:
    api.create_network(name, driver="bridge", labels=LABELS)
    host_config = api.create_host_config(
        port_bindings={8080: ("127.0.0.1", None)}, network_mode=name
    )
    created = api.create_container(
        IMAGE, name=name, labels=LABELS, ports=[8080], host_config=host_config
    )
    api.start(created["Id"])
    return str(created["Id"])


def clean(api: Any) -> None:
    with ThreadPoolExecutor(4) as pool:
        rows = api.containers(all=True, filters={"label": "engine-growth"})
        list(pool.map(lambda row: api.remove_container(row["Id"], force=True), rows))
        networks = api.networks(filters={"label": "engine-growth"})
        list(pool.map(lambda network: api.remove_network(network["Id"]), networks))


def timed(call: Any) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(api: Any, rounds: int = 5) -> dict[str, float]:
    """Medians (ms) of each operation, one at a time, on an engine already holding the apps."""
    samples: dict[str, list[float]] = {"list": [], "network": [], "container": [], "remove": []}
    for index in range(rounds):
        name = f"growth-probe-{index}"
        samples["list"].append(timed(lambda: api.networks(names=[name])))  # noqa: B023
        samples["network"].append(
            timed(lambda: api.create_network(name, driver="bridge", labels=LABELS))  # noqa: B023
        )
        started = time.perf_counter()
        host_config = api.create_host_config(
            port_bindings={8080: ("127.0.0.1", None)}, network_mode=name
        )
        created = api.create_container(
            IMAGE, name=name, labels=LABELS, ports=[8080], host_config=host_config
        )
        api.start(created["Id"])
        samples["container"].append(time.perf_counter() - started)
        started = time.perf_counter()
        api.remove_container(created["Id"], force=True)
        api.remove_network(name)
        samples["remove"].append(time.perf_counter() - started)
    return {key: statistics.median(values) * 1000 for key, values in samples.items()}


def main() -> None:
    steps = [int(arg) for arg in sys.argv[1:]] or [0, 250, 500, 750]
    api = docker.from_env().api
    clean(api)
    have = 0
    print("apps  list-by-name  network-create  container-create+start  remove-both  load")
    try:
        for step in steps:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda i: add(api, f"growth-{i:04d}"), range(have, step)))
            have = max(have, step)
            m = measure(api)
            print(
                f"{step:4d}  {m['list']:9.0f} ms  {m['network']:11.0f} ms  "
                f"{m['container']:17.0f} ms  {m['remove']:8.0f} ms  {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    finally:
        clean(api)


if __name__ == "__main__":
    main()
