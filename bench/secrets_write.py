"""Durable secret writes: gitberth's POST /secrets beside Swarm's secrets.create, same run.

Both sides create N new secrets of the same size, acknowledged only once durable: gitberth
commits each one to SQLite in WAL mode with synchronous=FULL (one fsync per write) through a
real ``gitberth serve`` over loopback HTTP; Swarm commits each one to its Raft log through the
docker SDK on a single-node swarm. Both clients use ``requests`` (the docker SDK's HTTP
library), one session per worker, so the client side costs the same. Reported: writes per
second and p50/p99 latency.
Target: gitberth at least twice Swarm's rate, with a p99 no worse than Swarm's.

Run: DOCKER_HOST=unix:///var/lib/gitberth-dockerd/docker.sock \
     .venv/bin/python bench/secrets_write.py [--writes N] [--concurrency C]
(scripts/dockerd.sh starts that engine.) If the engine is not in a swarm, the bench runs
``swarm init --advertise-addr 127.0.0.1`` and leaves the swarm again afterwards.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import requests

GITBERTH = str(Path(sys.executable).with_name("gitberth"))


@dataclass(frozen=True)
class Result:
    name: str
    latencies: list[float]
    wall: float

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<28} {self.rate:>9.1f}/s   p50 {self.percentile(0.5) * 1000:>7.2f} ms"
            f"   p99 {self.percentile(0.99) * 1000:>7.2f} ms"
            f"   mean {statistics.fmean(self.latencies) * 1000:>7.2f} ms"
        )


def timed_writes(
    *, name: str, writes: int, concurrency: int, write: Callable[[int], None]
) -> Result:
    """Run *write(i)* for every i with *concurrency* workers; time each call and the whole."""

    def one(index: int) -> float:
        started = time.perf_counter()
        write(index)
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(one, range(writes)))
    return Result(name=name, latencies=latencies, wall=time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_gitberth(*, writes: int, concurrency: int, value: str) -> Result:
    token = secrets.token_urlsafe(24)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="gitberth-bench-") as tmp:
        log = Path(tmp, "serve.log").open("wb")
        process = subprocess.Popen(
            [GITBERTH, "serve", "--state-dir", f"{tmp}/state", "--listen", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GITBERTH_TOKEN": token},
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process)
            sessions = [requests.Session() for _ in range(concurrency)]
            for session in sessions:
                session.headers["authorization"] = f"Bearer {token}"

            def write(index: int) -> None:
                session = sessions[index % concurrency]
                response = session.post(
                    f"{url}/secrets", json={"name": f"bench-{index}", "data": {"VALUE": value}}
                )
                assert response.status_code == 201, response.text

            for index in range(10):
                sessions[0].post(
                    f"{url}/secrets", json={"name": f"warmup-{index}", "data": {"VALUE": value}}
                )
            result = timed_writes(
                name="gitberth POST /secrets", writes=writes, concurrency=concurrency, write=write
            )
            for session in sessions:
                session.close()
            return result
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
            log.close()


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gitberth serve exited before answering")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("gitberth serve did not answer within 30 s")


def bench_swarm(*, writes: int, concurrency: int, value: str) -> Result:
    client = docker.from_env()
    initialized = False
    if client.info()["Swarm"]["LocalNodeState"] != "active":
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
        initialized = True
    run = secrets.token_hex(3)
    created: list[str] = []
    try:
        for index in range(10):
            created.append(
                client.secrets.create(name=f"warmup-{run}-{index}", data=value.encode()).id
            )

        def write(index: int) -> None:
            created.append(
                client.secrets.create(name=f"bench-{run}-{index}", data=value.encode()).id
            )

        return timed_writes(
            name="swarm secrets.create", writes=writes, concurrency=concurrency, write=write
        )
    finally:
        for secret_id in created:
            client.api.remove_secret(secret_id)
        if initialized:
            client.swarm.leave(force=True)
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--value-bytes", type=int, default=64)
    args = parser.parse_args()
    value = secrets.token_urlsafe(args.value_bytes)[: args.value_bytes]

    ours = bench_gitberth(writes=args.writes, concurrency=args.concurrency, value=value)
    swarm = bench_swarm(writes=args.writes, concurrency=args.concurrency, value=value)
    print(
        f"{args.writes} durable writes of a {args.value_bytes}-byte value, "
        f"concurrency {args.concurrency}, 127.0.0.1"
    )
    print(ours.line())
    print(swarm.line())
    ratio = ours.rate / swarm.rate
    p99_ok = ours.percentile(0.99) <= swarm.percentile(0.99)
    met = ratio >= 2 and p99_ok
    print(
        f"rate ratio gitberth/swarm = {ratio:.2f} (target >= 2); "
        f"p99 {'no worse' if p99_ok else 'WORSE'} than swarm -> target {'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
