"""Durable secret writes: gitberth's POST /secrets beside Swarm's secrets.create, same run.

Both sides create new secrets of the same size, each acknowledged only once durable: gitberth
commits to SQLite in WAL mode with synchronous=FULL (concurrent writes share a group commit)
through a real ``gitberth serve`` over loopback HTTP; Swarm commits each one to its Raft log
on a single-node swarm. Both sides are driven by the same client, :class:`KeepAliveClient`: one
keep-alive HTTP/1.1 connection per worker thread (TCP to gitberth, the engine's unix socket to
Docker's ``POST /secrets/create``, the call the docker SDK makes), so the client costs the same
on both sides and is not what is measured. ``requests`` (the docker SDK's HTTP library) was
that: against a server that answers at once, four ``requests`` workers top out at about 830
writes/s on these machines, below 1.2× of Swarm's rate, so it capped both sides alike and hid
the servers' difference. The lean client reaches about 2,900/s against the same server.

The writes are split into rounds that alternate which side goes first, so both see the same
background load; rates are total writes over total time, latencies are over all writes.
Target: gitberth at least 1.2× Swarm's rate, with a p99 no worse than Swarm's.

Run: DOCKER_HOST=unix:///var/lib/gitberth-dockerd/docker.sock \
     .venv/bin/python bench/secrets_write.py [--writes N] [--concurrency C] [--rounds R]
(scripts/dockerd.sh starts that engine.) If the engine is not in a swarm, the bench runs
``swarm init --advertise-addr 127.0.0.1`` (see ``bench.baseline.swarm_init_arguments`` for the
variables that move its ports and address pool) and leaves the swarm again afterwards.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import itertools
import json
import math
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.baseline import ensure_swarm  # noqa: E402

GITBERTH = str(Path(sys.executable).with_name("gitberth"))

Writer = Callable[[str], None]
"""``write(name)``: create one secret named *name*, from the calling worker thread's connection."""


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<24} {self.rate:>8.1f}/s   p50 {self.percentile(0.5) * 1000:>7.2f} ms"
            f"   p99 {self.percentile(0.99) * 1000:>7.2f} ms"
            f"   mean {statistics.fmean(self.latencies) * 1000:>7.2f} ms"
        )


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` over a unix socket (the Docker engine's)."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self._path)
        self.sock = sock


class KeepAliveClient:
    """JSON POSTs over one keep-alive connection per calling thread (``http.client``, no pool,
    no retries, no cookie or proxy handling: the least a client can do per request)."""

    def __init__(self, connect: Callable[[], http.client.HTTPConnection], **headers: str) -> None:
        self._connect = connect
        self._headers = {"content-type": "application/json", **headers}
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []

    def post(self, path: str, body: object) -> tuple[int, bytes]:
        return self.request("POST", path, json.dumps(body))

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
            self._opened.append(connection)
        connection.request(method, path, body=body, headers=self._headers)
        response = connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        for connection in self._opened:
            connection.close()


@dataclass(frozen=True)
class Side:
    """One side of the comparison: its write, a request its server answers without any work
    or authentication (what its HTTP stack alone costs), and the server's process id when it
    is known."""

    write: Writer
    ask_floor: Writer
    pid: int | None


def process_cpu_seconds(pid: int) -> float:
    """CPU time *pid* has used so far, all its threads, user and system (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engine_pid(socket_path: str) -> int | None:
    """The pid of a private engine started by ``scripts/dockerd.sh`` (its ``docker.pid`` lies
    beside its socket); None for another engine."""
    try:
        return int(Path(socket_path).with_name("docker.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def cpu_profile(sides: dict[str, Side], *, requests: int, concurrency: int) -> str:
    """Where a write's time goes, in CPU: each side's server and the client, per request, for
    its writes and for its cheapest request, measured over extra untimed rounds.

    A server that is one process on one core cannot write faster than one write per its CPU
    time, whatever the disk does; the cheapest request shows how much of that is its HTTP
    stack before any work.
    """
    cores = os.cpu_count() or 1
    lines = [
        f"CPU per request over {requests} requests each, {concurrency} keep-alive workers, "
        f"{cores} cores:",
        f"  {'':<36} {'server':>9} {'client':>9} {'rate':>8}",
    ]
    per_write: dict[str, tuple[float, float, float]] = {}
    counter = itertools.count()
    for side_name, side in sides.items():
        for kind, call in (("write", side.write), ("no-work request", side.ask_floor)):
            server_before = process_cpu_seconds(side.pid) if side.pid else math.nan
            client_before = time.process_time()
            result = Result(kind)
            names = [f"cpu-{os.getpid()}-{next(counter)}" for _ in range(requests)]
            run_round(result, names=names, concurrency=concurrency, write=call)
            client = (time.process_time() - client_before) / requests
            server = (
                (process_cpu_seconds(side.pid) - server_before) / requests if side.pid else math.nan
            )
            if kind == "write":
                per_write[side_name] = (server, client, result.rate)
            shown = "unknown" if math.isnan(server) else f"{server * 1000:.2f} ms"
            lines.append(
                f"  {side_name + ' ' + kind:<36} {shown:>9} {client * 1000:>6.2f} ms "
                f"{result.rate:>6.0f}/s"
            )
    lines += cpu_verdict(per_write, cores=cores)
    return "\n".join(lines)


def cpu_verdict(per_write: dict[str, tuple[float, float, float]], *, cores: int) -> list[str]:
    """What the CPU figures allow: the most writes/s one core gives gitberth's single process,
    and the most the machine's cores give any server at its CPU per write plus the client's."""
    if "gitberth" not in per_write or math.isnan(per_write["gitberth"][0]):
        return []
    server, client, _ = per_write["gitberth"]
    lines = [
        f"gitberth serve is one Python process (one interpreter lock): at {server * 1000:.2f} ms "
        f"of CPU per write one core gives it at most {1 / server:.0f} writes/s; with the "
        f"client's {client * 1000:.2f} ms, all {cores} cores together could carry at most "
        f"{cores / (server + client):.0f}/s even were the server spread over every core."
    ]
    if "swarm" in per_write:
        swarm_rate = per_write["swarm"][2]
        lines.append(
            f"1.2× Swarm's rate in these rounds is {1.2 * swarm_rate:.0f}/s: it needs "
            f"{1000 * cores / (1.2 * swarm_rate):.2f} ms of CPU per write, client included."
        )
    return lines


def engine_socket_path() -> str:
    """The unix socket of the engine at ``$DOCKER_HOST`` (the bench's engines are local)."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise SystemExit(f"the Swarm baseline needs a local engine socket, not {host}")
    return host.removeprefix("unix://")


def run_round(result: Result, *, names: list[str], concurrency: int, write: Writer) -> None:
    """Create every secret in *names* with *concurrency* workers; add timings to *result*."""

    def one(index: int) -> float:
        started = time.perf_counter()
        write(names[index])
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        result.latencies.extend(pool.map(one, range(len(names))))
    result.wall += time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gitberth_writer(*, concurrency: int, value: str) -> Iterator[Side]:
    """A fresh ``gitberth serve`` on an empty state dir, and a writer that POSTs to it."""
    token = secrets.token_urlsafe(24)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="gitberth-bench-") as tmp:
        log = Path(tmp, "serve.log").open("wb")
        process = subprocess.Popen(
            [GITBERTH, "serve", "--state-dir", f"{tmp}/state", "--listen", f"127.0.0.1:{port}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GITBERTH_TOKEN": token},
        )
        client = KeepAliveClient(
            lambda: http.client.HTTPConnection("127.0.0.1", port),
            authorization=f"Bearer {token}",
        )
        try:
            _wait_healthy(url, process)

            def write(name: str) -> None:
                status, body = client.post("/secrets", {"name": name, "data": {"VALUE": value}})
                assert status == 201, body

            def ask_floor(_: str) -> None:
                status, body = client.request("GET", "/healthz")
                assert status == 200, body

            yield Side(write, ask_floor, process.pid)
        finally:
            client.close()
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


@contextmanager
def swarm_writer(*, concurrency: int, value: str) -> Iterator[Side]:
    """A writer that creates Swarm secrets; removes them (and a swarm it created) afterwards."""
    try:
        docker_client = docker.from_env()
    except docker.errors.DockerException as exc:
        raise SystemExit(
            f"the Swarm baseline needs a Docker engine at $DOCKER_HOST "
            f"(scripts/dockerd.sh starts one): {exc}"
        ) from exc
    initialized = ensure_swarm(docker_client)
    path = f"/v{docker_client.api.api_version}/secrets/create"
    data = base64.b64encode(value.encode()).decode()
    socket_path = engine_socket_path()
    client = KeepAliveClient(lambda: UnixHTTPConnection(socket_path))
    created: list[str] = []
    try:

        def write(name: str) -> None:
            status, body = client.post(path, {"Name": name, "Data": data})
            assert status == 201, body
            created.append(json.loads(body)["ID"])

        def ask_floor(_: str) -> None:
            status, body = client.request("GET", "/_ping")
            assert status == 200, body

        yield Side(write, ask_floor, engine_pid(socket_path))
    finally:
        client.close()
        for secret_id in created:
            docker_client.api.remove_secret(secret_id)
        if initialized:
            docker_client.swarm.leave(force=True)
        docker_client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--writes", type=int, default=1000, help="per side")
    parser.add_argument("--concurrency", type=int, default=4, help="client workers per side")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--value-bytes", type=int, default=64)
    args = parser.parse_args()
    value = secrets.token_urlsafe(args.value_bytes)[: args.value_bytes]
    per_round = args.writes // args.rounds
    run = secrets.token_hex(3)
    ours, swarm = Result("gitberth POST /secrets"), Result("swarm secrets.create")
    counter = itertools.count()

    def names(count: int) -> list[str]:
        return [f"bench-{run}-{next(counter)}" for _ in range(count)]

    with (
        swarm_writer(concurrency=args.concurrency, value=value) as swarm_write,
        gitberth_writer(concurrency=args.concurrency, value=value) as gitberth_write,
    ):
        sides = [(ours, gitberth_write.write), (swarm, swarm_write.write)]
        for _, write in sides:
            run_round(Result("warm-up"), names=names(20), concurrency=args.concurrency, write=write)
        for round_index in range(args.rounds):
            for result, write in sides if round_index % 2 == 0 else sides[::-1]:
                run_round(result, names=names(per_round), concurrency=args.concurrency, write=write)

    print(
        f"{per_round * args.rounds} durable writes per side of a {args.value_bytes}-byte value, "
        f"concurrency {args.concurrency}, {args.rounds} alternating rounds, 127.0.0.1"
    )
    print(ours.line())
    print(swarm.line())
    ratio = ours.rate / swarm.rate
    p99_ok = ours.percentile(0.99) <= swarm.percentile(0.99)
    met = ratio >= 1.2 and p99_ok
    print(
        f"rate ratio gitberth/swarm = {ratio:.2f} (target >= 1.2); p99 "
        f"{'no worse than' if p99_ok else 'WORSE than'} swarm's -> "
        f"target {'met' if met else 'MISSED'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
