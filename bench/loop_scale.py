"""The loop at 300 running apps: a no-op pass (time and engine calls) and the RSS of ``serve``.

``gitberth serve`` converges 300 apps from a local repo; its resident memory is then read from
``/proc``. A second, in-process loop on the same repo and engine then times no-op passes woken
as Docker would wake them (no Git work), against the baseline of the bare engine list call they
cannot avoid. Targets: a no-op pass <= 0.15 s with exactly one list call; RSS <= 100 MiB.

Run: DOCKER_HOST=... .venv/bin/python bench/loop_scale.py [--apps 300]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.engine import ensure_example_image  # noqa: E402
from tests.support.gitrepo import GitRepo, app_yaml  # noqa: E402

from gitberth.database import open_database  # noqa: E402
from gitberth.loop import Loop, LoopSettings  # noqa: E402
from gitberth.runtime.base import OWNERSHIP_LABELS  # noqa: E402
from gitberth.runtime.docker import DockerRuntime  # noqa: E402
from gitberth.state import StateDir  # noqa: E402
from gitberth.status import StatusStore  # noqa: E402

GITBERTH = str(Path(sys.executable).with_name("gitberth"))
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean(client: docker.DockerClient) -> None:
    for row in client.api.containers(all=True, filters={"label": "gitberth.app"}):
        client.api.remove_container(row["Id"], force=True)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def serve_until_converged(repo: GitRepo, tmp: Path, count: int) -> tuple[float, float]:
    """Start serve, wait for every app to be Synced; return (seconds, RSS MiB)."""
    port = free_port()
    process = subprocess.Popen(
        [
            GITBERTH,
            "serve",
            "--repo",
            str(repo.path),
            "--state-dir",
            str(tmp / "serve-state"),
            "--listen",
            f"127.0.0.1:{port}",
            "--grace",
            "2",
        ],
        env={**os.environ, "GITBERTH_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.perf_counter()
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ) as client:
            while True:
                try:
                    apps = client.get("/apps").json()["apps"]
                except (httpx.HTTPError, KeyError):
                    apps = []
                if sum(a["sync"] == "Synced" for a in apps) == count:
                    break
                if process.poll() is not None or time.perf_counter() - started > 900:
                    raise RuntimeError("serve did not converge")
                time.sleep(1.0)
            converged = time.perf_counter() - started
            time.sleep(2.0)  # let a few no-op passes and API calls run
            client.get("/apps")
            client.get("/events")
            return converged, rss_mib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def noop_passes(repo: GitRepo, tmp: Path, rounds: int) -> tuple[list[float], list[int]]:
    db = open_database(StateDir(tmp / "loop-state"))
    loop = Loop(
        settings=LoopSettings(repo=str(repo.path), state_dir=tmp / "loop-state"),
        runtime=DockerRuntime(source="bench", grace_seconds=2),
        status=StatusStore(db),
    )
    first = loop.run_pass()
    assert not first.actions, "serve should have converged everything"
    times, calls = [], []
    for _ in range(rounds):
        loop.runtime.calls.clear()
        loop.trigger("docker: bench")
        work = loop._next_work()
        started = time.perf_counter()
        record = loop.run_pass(work)
        times.append(time.perf_counter() - started)
        calls.append(sum(loop.runtime.calls.values()))
        assert record.outcome == "noop", record
    db.close()
    return times, calls


def bare_list(client: docker.DockerClient, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.api.containers(all=True, filters={"label": list(OWNERSHIP_LABELS)})
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    client = docker.from_env()
    ensure_example_image(client)
    clean(client)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            repo = GitRepo(tmp / "repo")
            repo.commit(
                {f"apps/app-{i:03d}.yaml": app_yaml(f"app-{i:03d}") for i in range(args.apps)}
            )
            converged, rss = serve_until_converged(repo, tmp, args.apps)
            times, calls = noop_passes(repo, tmp, args.rounds)
            baseline = bare_list(client, args.rounds)
    finally:
        clean(client)
    ours, theirs = statistics.median(times), statistics.median(baseline)
    print(f"apps: {args.apps}; serve converged them in {converged:.0f} s")
    print(f"RSS of gitberth serve with {args.apps} apps: {rss:.0f} MiB  (target <= 100 MiB)")
    print(f"no-op pass (median of {args.rounds}): {ours * 1000:.0f} ms  (target <= 150 ms)")
    print(f"engine calls per no-op pass: {sorted(set(calls))}  (target: [1])")
    print(f"bare list call of {args.apps} containers (baseline): {theirs * 1000:.0f} ms")
    print(f"ratio no-op pass / bare list call: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
