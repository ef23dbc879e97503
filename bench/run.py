"""``make bench``: every scenario beside its baseline, in one run, recorded and reported.

Each scenario measures gitberth and what a user would use instead on the same engine, image
and change, interleaving rounds where it can so background load hits both sides alike. Every
sample is written to ``bench/results/<date>-<host>.json`` with the machine's facts and its load
average; ``bench/report.py`` turns that into ``docs/benchmarks.md`` and the README's figures.
A missed target gets an extra, untimed round under py-spy whose top frames go in the report.

``--quick`` (``make bench QUICK=1``) is a smoke run: fewer rounds, smaller scales, no
profiles.
"""

from __future__ import annotations

import argparse
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
import sysconfig
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.engine import ensure_example_image  # noqa: E402
from tests.support.gitrepo import GitRepo, app_yaml  # noqa: E402

from bench import compose_baseline, profiling, report, swarm_scenarios  # noqa: E402
from bench import secrets_write as secret_bench  # noqa: E402
from bench.baseline import (  # noqa: E402
    BENCH_LABEL,
    ensure_swarm,
    remove_labelled,
    sdk_replace_round,
    start_baseline,
)
from bench.loop_commit_latency import loop_round  # noqa: E402
from bench.plan_review import make_repo, timed  # noqa: E402
from bench.record import evaluate, load_average, machine_facts, statistic, validate  # noqa: E402
from gitberth.database import open_database  # noqa: E402
from gitberth.loop import Loop, LoopSettings  # noqa: E402
from gitberth.runtime.base import LABEL_MANAGED, OWNERSHIP_LABELS  # noqa: E402
from gitberth.runtime.docker import DockerRuntime  # noqa: E402
from gitberth.runtime.swarm import SwarmRuntime  # noqa: E402
from gitberth.source_id import source_id  # noqa: E402
from gitberth.state import StateDir  # noqa: E402
from gitberth.status import StatusStore  # noqa: E402

GITBERTH = str(Path(sys.executable).with_name("gitberth"))
PROFILES = {"wanted": True}
"""Whether a missed target gets its extra, profiled round (not in a ``--quick`` smoke run)."""


def profile_wanted() -> bool:
    return PROFILES["wanted"] and profiling.available()


STARTED: list[Scenario] = []
"""Every scenario begun, so one that fails is reported with its parameters and the samples it
took before failing (not as an empty stand-in)."""


@dataclass
class Scenario:
    """What one scenario records: named series of samples and the targets over them."""

    id: str
    title: str
    parameters: dict[str, Any]
    note: str = ""
    series: dict[str, tuple[str, str, list[float]]] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    profile: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        STARTED.append(self)

    def add(self, name: str, *, role: str, unit: str) -> list[float]:
        self.series[name] = (role, unit, [])
        return self.series[name][2]

    def target(
        self,
        description: str,
        *,
        series: str,
        statistic: str = "median",
        op: str,
        limit: float,
        baseline: str | None = None,
    ) -> None:
        spec: dict[str, Any] = {
            "description": description,
            "kind": "ratio" if baseline else "value",
            "series": series,
            "statistic": statistic,
            "op": op,
            "limit": limit,
        }
        if baseline:
            spec["baseline"] = baseline
        self.targets.append(spec)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "note": self.note,
            "parameters": self.parameters,
            "series": [
                {"name": name, "role": role, "unit": unit, "samples": samples}
                for name, (role, unit, samples) in self.series.items()
            ],
            "targets": self.targets,
            "load_average": load_average(),
            "seconds": 0.0,
            "profile": self.profile,
            "error": self.error,
        }

    def missed(self) -> bool:
        data = self.as_json()
        try:
            return any(not evaluate(data, target).met for target in self.targets)
        except (KeyError, ZeroDivisionError):
            return True


# --- durable secret writes -------------------------------------------------------------------


def secret_writes(quick: bool) -> Scenario:
    writes, rounds, concurrency = (200, 4, 4) if quick else (1000, 10, 4)
    scenario = Scenario(
        "secret-writes",
        "Durable secret writes vs Swarm secrets.create",
        {"writes_per_side": writes, "rounds": rounds, "concurrency": concurrency, "bytes": 64},
        note=(
            "gitberth: `POST /secrets` to a real `gitberth serve` over loopback, acknowledged "
            "after the SQLite WAL commit with synchronous=FULL. Swarm: `POST /secrets/create` "
            "(what the docker SDK's `secrets.create` sends) on a single-node swarm (initialised "
            "on the benchmark's own engine and left afterwards), acknowledged after its Raft "
            "commit. Both sides are driven by the same lean client, one keep-alive connection "
            "per worker: the docker SDK's `requests` tops out near 830 writes/s against a "
            "server that answers at once, which capped both sides. Rates are per round."
        ),
    )
    ours_rate = scenario.add("gitberth writes/s", role="ours", unit="writes/s")
    swarm_rate = scenario.add("swarm writes/s", role="baseline", unit="writes/s")
    ours_latency = scenario.add("gitberth write latency", role="ours", unit="s")
    swarm_latency = scenario.add("swarm write latency", role="baseline", unit="s")
    value = secrets.token_urlsafe(64)[:64]
    counter = itertools.count()
    run = secrets.token_hex(3)

    def names(count: int) -> list[str]:
        return [f"bench-{run}-{next(counter)}" for _ in range(count)]

    with (
        secret_bench.swarm_writer(concurrency=concurrency, value=value) as swarm_side,
        secret_bench.gitberth_writer(concurrency=concurrency, value=value) as ours_side,
    ):
        ours, swarm_write = ours_side.write, swarm_side.write
        sides = [(ours, ours_rate, ours_latency), (swarm_write, swarm_rate, swarm_latency)]
        for write, _, _ in sides:
            secret_bench.run_round(
                secret_bench.Result("warm-up"),
                names=names(20),
                concurrency=concurrency,
                write=write,
            )
        for index in range(rounds):
            for write, rates, latencies in sides if index % 2 == 0 else sides[::-1]:
                result = secret_bench.Result("round")
                secret_bench.run_round(
                    result, names=names(writes // rounds), concurrency=concurrency, write=write
                )
                rates.append(result.rate)
                latencies.extend(result.latencies)
        scenario.target(
            "write rate ≥ 1.2× Swarm's",
            series="gitberth writes/s",
            baseline="swarm writes/s",
            op=">=",
            limit=1.2,
        )
        scenario.target(
            "p99 latency ≤ Swarm's",
            series="gitberth write latency",
            baseline="swarm write latency",
            statistic="p99",
            op="<=",
            limit=1.0,
        )
        if scenario.missed() and profile_wanted():
            cpu = secret_bench.cpu_profile(
                {"gitberth": ours_side, "swarm": swarm_side},
                requests=writes,
                concurrency=concurrency,
            )
            assert ours_side.pid is not None
            with profiling.sampling(ours_side.pid) as summary:
                secret_bench.run_round(
                    secret_bench.Result("profile"),
                    names=names(writes // rounds),
                    concurrency=concurrency,
                    write=ours,
                )
            scenario.profile = f"{cpu}\n\npy-spy, gitberth serve:\n{summary[0]}"
    return scenario


# --- one-line change: commit to replaced and healthy -----------------------------------------


def commit_replace(quick: bool) -> Scenario:
    rounds, among = (3, 5) if quick else (10, 100)
    scenario = Scenario(
        "commit-replace",
        "One-line change: commit → replaced and healthy",
        {"rounds": rounds, "compose_services": among},
        note=(
            "gitberth: a running loop notices the commit, reads and plans it, starts the new "
            "container first, waits until it answers on its port (health gate), then removes "
            "the old one. docker SDK: stop + remove + run, no health wait. docker-compose: "
            f"`up -d` after changing one env line, in a project of 1 and of {among} services. "
            "docker stack deploy: until the new task runs (start-first update), single-node "
            "swarm."
        ),
    )
    ours = scenario.add("gitberth loop", role="ours", unit="s")
    sdk = scenario.add("docker SDK stop+remove+run", role="baseline", unit="s")
    compose_one = scenario.add("docker-compose up -d (1 service)", role="baseline", unit="s")
    compose_many = scenario.add(
        f"docker-compose up -d (1 of {among} services)", role="baseline", unit="s"
    )
    stack = scenario.add("docker stack deploy (1 service)", role="baseline", unit="s")
    client = docker.from_env()
    ensure_example_image(client)
    remove_labelled(client, BENCH_LABEL, "gitberth.app=bench")
    with tempfile.TemporaryDirectory(prefix="gitberth-bench-") as tmp_name:
        tmp = Path(tmp_name)
        one_dir, many_dir = tmp / "gbbenchone", tmp / "gbbenchmany"
        repo = GitRepo(tmp / "repo")
        repo.commit({"apps/bench.yaml": app_yaml("bench", env={"ROUND": "start"})})
        db = open_database(StateDir(tmp / "state"))
        runtime = DockerRuntime(source="bench", grace_seconds=10)
        loop = Loop(
            settings=LoopSettings(repo=str(repo.path), state_dir=tmp / "state"),
            runtime=runtime,
            status=StatusStore(db),
        )
        loop.start()
        start_baseline(client)
        try:
            compose_baseline.compose_up(one_dir, services=1, value="start")
            compose_baseline.compose_up(many_dir, services=among, value="start")
            loop.wait_for_passes(1, timeout=60)
            for value in range(rounds):
                ours.append(loop_round(repo, loop, value))
                sdk.append(sdk_replace_round(client, value))
                compose_one.append(
                    compose_baseline.compose_up(one_dir, services=1, value=str(value))
                )
                compose_many.append(
                    compose_baseline.compose_up(many_dir, services=among, value=str(value))
                )
                time.sleep(0.3)  # let the loop's trailing pass (Docker events) settle
            scenario.target(
                "≤ 1.3× docker SDK stop+remove+run",
                series="gitberth loop",
                baseline="docker SDK stop+remove+run",
                op="<=",
                limit=1.3,
            )
            if scenario.missed() and profile_wanted():
                # The loop's threads mostly wait on the engine, so sampled frames say little;
                # each side's engine requests, timed, show where a round's time goes.
                ours_rounds, sdk_rounds = [], []
                for value in range(rounds, rounds + 3):
                    with profiling.engine_requests(runtime.client) as seen:
                        took = loop_round(repo, loop, value)
                    ours_rounds.append((took, list(seen)))
                    time.sleep(0.3)
                    with profiling.engine_requests(client) as seen:
                        took = sdk_replace_round(client, value)
                    sdk_rounds.append((took, list(seen)))
                scenario.profile = "\n\n".join(
                    [
                        profiling.round_breakdown("gitberth loop, commit → Synced", ours_rounds),
                        profiling.round_breakdown("docker SDK stop+remove+run", sdk_rounds),
                    ]
                )
        finally:
            loop.stop()
            db.close()
            remove_labelled(client, BENCH_LABEL, "gitberth.app=bench")
            compose_baseline.compose_down(one_dir)
            compose_baseline.compose_down(many_dir)
        stack.extend(stack_rounds(client, tmp / "gbbenchstack", rounds))
    return scenario


def stack_rounds(client: docker.DockerClient, project: Path, rounds: int) -> list[float]:
    """``docker stack deploy`` rounds on a single-node swarm made for them, and left after."""
    created = ensure_swarm(client)
    try:
        compose_baseline.stack_deploy_round(client, project, value="start")
        return [
            compose_baseline.stack_deploy_round(client, project, value=str(value))
            for value in range(rounds)
        ]
    finally:
        compose_baseline.stack_remove(project)
        if created:
            client.swarm.leave(force=True)


# --- 1,000 apps: converge from empty, then no-op passes -------------------------------------


def clean_apps(client: docker.DockerClient) -> None:
    """Remove every gitberth container, then every gitberth network (four at a time: a
    thousand of each take minutes one by one)."""
    rows = client.api.containers(all=True, filters={"label": "gitberth.app"})
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda row: client.api.remove_container(row["Id"], force=True), rows))
        networks = client.api.networks(filters={"label": LABEL_MANAGED})
        list(pool.map(lambda network: client.api.remove_network(network["Id"]), networks))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class ConvergeRun:
    seconds: float
    rss: list[float]
    api_latencies: list[float]
    server_times: list[float] = field(default_factory=list)
    """Each ``GET /apps``'s ``Server-Timing``: the part of its latency the server spent making
    the answer (the rest waited for it to get to the request, or on the way)."""


def server_seconds(response: httpx.Response) -> float:
    """The ``app;dur=<ms>`` of a gitberth answer's ``Server-Timing``, in seconds."""
    _, _, duration = response.headers.get("server-timing", "").partition("dur=")
    return float(duration or "nan") / 1000


CONVERGE_LIMIT = 1800.0
"""Seconds a converge may take before the scenario fails (saying how far it got)."""
POLL_SECONDS = 0.1
"""How often the converge poller asks ``GET /apps``: ten times a second is a busy dashboard's
worth. Asked back to back, the poller and the server's answers to it (1,000 apps each) would
compete for the machine's cores with the converge itself, which compose's side never pays for."""


def serve_converge(
    repo: GitRepo,
    state: Path,
    count: int,
    *,
    on_start: Callable[[int], None] | None = None,
    run: ConvergeRun | None = None,
) -> ConvergeRun:
    """``gitberth serve`` from empty until *count* apps are Synced, polled through ``GET /apps``.

    A poller asks ``GET /apps`` every :data:`POLL_SECONDS` the whole time (its latencies are
    the API's responsiveness under load) and the server's RSS is read from /proc every poll.
    Samples go into *run* as they are taken, so a converge that fails still leaves them.
    """
    token = secrets.token_urlsafe(24)
    port = free_port()
    process = subprocess.Popen(
        [
            GITBERTH,
            "serve",
            "--repo",
            str(repo.path),
            "--state-dir",
            str(state),
            "--listen",
            f"127.0.0.1:{port}",
            "--grace",
            "2",
        ],
        env={**os.environ, "GITBERTH_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if on_start:
        on_start(process.pid)
    started = time.perf_counter()
    run = run if run is not None else ConvergeRun(seconds=0.0, rss=[], api_latencies=[])
    synced = 0
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        ) as client:
            while True:
                asked = time.perf_counter()
                try:
                    response = client.get("/apps")  # returns once the whole body is read
                except httpx.TransportError:
                    response = None  # not listening yet
                answered = time.perf_counter()
                if response is not None and response.status_code == 200:
                    # The clock stops at the answer, before this client parses it: at 1,000
                    # apps its JSON takes the client several milliseconds.
                    apps = response.json()["apps"]
                    run.api_latencies.append(answered - asked)
                    run.server_times.append(server_seconds(response))
                    run.rss.append(rss_mib(process.pid))
                    synced = sum(app["sync"] == "Synced" for app in apps)
                    if synced == count:
                        break
                time.sleep(max(0.0, asked + POLL_SECONDS - time.perf_counter()))
                if process.poll() is not None or time.perf_counter() - started > CONVERGE_LIMIT:
                    raise RuntimeError(
                        f"gitberth serve did not converge: {synced} of {count} apps Synced after "
                        f"{time.perf_counter() - started:.0f} s (limit {CONVERGE_LIMIT:.0f} s); "
                        f"max RSS {max(run.rss, default=0):.0f} MiB"
                    )
            run.seconds = time.perf_counter() - started
            return run
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)


def noop_passes(repo: GitRepo, state: Path, rounds: int) -> tuple[list[float], list[float]]:
    db = open_database(StateDir(state))
    settings = LoopSettings(repo=str(repo.path), state_dir=state)
    # The same source as serve's, so the loop owns what serve deployed.
    source = source_id(settings.repo, branch=settings.branch, apps_dir=settings.apps_dir)
    loop = Loop(
        settings=settings,
        runtime=DockerRuntime(source=source, grace_seconds=2),
        status=StatusStore(db),
    )
    first = loop.run_pass()
    if first.actions:
        raise RuntimeError(f"serve left work undone: {len(first.actions)} actions")
    times: list[float] = []
    calls: list[float] = []
    try:
        for _ in range(rounds):
            loop.runtime.calls.clear()
            loop.trigger("docker: bench")
            work = loop._next_work()
            started = time.perf_counter()
            record = loop.run_pass(work)
            times.append(time.perf_counter() - started)
            calls.append(float(sum(loop.runtime.calls.values())))
            if record.outcome != "noop":
                raise RuntimeError(f"a no-op pass did work: {record}")
    finally:
        db.close()
    return times, calls


def bare_list(client: docker.DockerClient, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.api.containers(all=True, filters={"label": list(OWNERSHIP_LABELS)})
        times.append(time.perf_counter() - started)
    return times


SCALE_APPS_ENV = "GITBERTH_BENCH_APPS"
"""Overrides the app count of the scale scenario (e.g. on an engine whose pool is smaller)."""


def scale(quick: bool) -> Scenario:
    # One converge round at full scale: 1,000 containers from empty and compose's 1,000 take
    # about half an hour together on two cores.
    apps, rounds, noop_rounds = (20, 1, 10) if quick else (1000, 1, 20)
    apps = int(os.environ.get(SCALE_APPS_ENV, apps))
    scenario = Scenario(
        "scale",
        f"{apps} apps on one host: converge from empty, then no-op passes",
        {"apps": apps, "converge_rounds": rounds, "noop_rounds": noop_rounds},
        note=(
            f"Converge: `gitberth serve` from an empty engine until all {apps} apps are Synced "
            "(each app gets its own network and a started container with a published port), "
            f"against `docker-compose up -d` of the same {apps} services in one project (one "
            "shared network). While serve converges, a client asks `GET /apps` ten times a "
            "second; its latencies and serve's RSS are sampled. No-op pass: an in-process loop "
            "woken as Docker events wake it, against the single engine list call it cannot avoid."
        ),
    )
    ours = scenario.add("gitberth serve converge", role="ours", unit="s")
    compose = scenario.add("docker-compose up -d", role="baseline", unit="s")
    compose_runs = scenario.add("docker-compose up -d runs needed", role="observed", unit="runs")
    rss = scenario.add("gitberth serve RSS", role="observed", unit="MiB")
    api = scenario.add("GET /apps while converging", role="observed", unit="s")
    api_server = scenario.add(
        "GET /apps while converging: server's own time", role="observed", unit="s"
    )
    noop = scenario.add("gitberth no-op pass", role="ours", unit="s")
    listing = scenario.add("engine list call", role="baseline", unit="s")
    calls = scenario.add("engine calls per no-op pass", role="observed", unit="calls")
    cleanup = scenario.add("cleanup between sides (untimed)", role="observed", unit="s")
    add_scale_targets(scenario)
    client = docker.from_env()
    ensure_example_image(client)
    clean_apps(client)
    with tempfile.TemporaryDirectory(prefix="gitberth-bench-") as tmp_name:
        tmp = Path(tmp_name)
        repo = GitRepo(tmp / "repo")
        repo.commit({f"apps/app-{i:04d}.yaml": app_yaml(f"app-{i:04d}") for i in range(apps)})
        project = tmp / "gbbenchscale"
        profiles: list[str] = []
        try:
            for index in range(rounds):
                run = ConvergeRun(seconds=0.0, rss=rss, api_latencies=api, server_times=api_server)
                serve_converge(repo, tmp / f"serve-{index}", apps, run=run)
                ours.append(run.seconds)
                if index == rounds - 1:
                    times, counted = noop_passes(repo, tmp / "loop-state", noop_rounds)
                    noop.extend(times)
                    calls.extend(counted)
                    listing.extend(bare_list(client, noop_rounds))
                    slow = statistics.median(noop) > 1.3 * statistics.median(listing)
                    if slow and profile_wanted():  # profiled while the apps still run
                        with profiling.sampling(os.getpid()) as summary:
                            noop_passes(repo, tmp / "loop-profile", noop_rounds)
                        profiles.append("no-op passes (in-process loop):\n" + summary[0])
                cleaning = time.perf_counter()
                clean_apps(client)
                cleanup.append(time.perf_counter() - cleaning)
                try:
                    seconds, runs = compose_baseline.compose_up_until_up(
                        project, services=apps, value="start"
                    )
                except RuntimeError as exc:
                    # gitberth's side stands; only the comparison with compose is not judged.
                    scenario.error = (
                        f"the docker-compose baseline failed {compose_baseline.COMPOSE_UP_RUNS} "
                        f"runs in a row: {exc}"
                    )
                else:
                    compose.append(seconds)
                    compose_runs.append(runs)
                cleaning = time.perf_counter()
                compose_baseline.compose_down(project)
                cleanup.append(time.perf_counter() - cleaning)
            verdicts = [evaluate(scenario.as_json(), target) for target in scenario.targets[:3]]
            if not verdicts[2].met and api:
                profiles.append(api_wait_breakdown(api, api_server))
            if any(not verdict.met for verdict in verdicts) and not quick and profile_wanted():
                profiles.append(converge_requests(tmp, min(apps, PROFILED_APPS)))
                profiles.append(profile_converge(tmp, min(apps, PROFILED_APPS)))
            scenario.profile = "\n\n".join(profiles) or None
        finally:
            clean_apps(client)
            compose_baseline.compose_down(project)
    return scenario


def api_wait_breakdown(latencies: list[float], server_times: list[float]) -> str:
    """``GET /apps`` as the client saw it beside the server's own ``Server-Timing``: what is
    left waited for the server to get to the request (a busy event loop, no free core)."""

    def row(name: str, samples: list[float]) -> str:
        figures = "  ".join(
            f"{label} {statistic(samples, label) * 1000:6.1f} ms" for label in ("median", "p99")
        )
        return f"  {name:<34} {figures}  max {statistic(samples, 'max') * 1000:6.1f} ms"

    load = load_average()
    return "\n".join(
        [
            f"GET /apps while converging, {len(latencies)} answers:",
            row("as the client waited for them", latencies),
            row("the server making them", [t for t in server_times if not math.isnan(t)]),
            f"  load average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores",
        ]
    )


def add_scale_targets(scenario: Scenario) -> None:
    """The scale scenario's targets, set before it runs: should a side fail, the targets over
    the other side's samples are still judged (a failed scenario keeps none)."""
    scenario.target(
        "converge faster than docker-compose up -d",
        series="gitberth serve converge",
        baseline="docker-compose up -d",
        op="<=",
        limit=1.0,
    )
    scenario.target(
        "RSS ≤ 150 MiB", series="gitberth serve RSS", statistic="max", op="<=", limit=150
    )
    scenario.target(
        "GET /apps p99 ≤ 100 ms",
        series="GET /apps while converging",
        statistic="p99",
        op="<=",
        limit=0.1,
    )
    scenario.target(
        "no-op pass ≤ 1.3× one list call",
        series="gitberth no-op pass",
        baseline="engine list call",
        op="<=",
        limit=1.3,
    )
    scenario.target(
        "exactly one engine call per no-op pass",
        series="engine calls per no-op pass",
        statistic="max",
        op="<=",
        limit=1,
    )


PROFILED_APPS = 100
"""The extra, profiled converge runs at most this many apps: its shape per app is the same
at 1,000, and a second 1,000-app converge would not fit beside the timed one."""


def converge_requests(tmp: Path, apps: int) -> str:
    """gitberth's engine requests through an extra, untimed converge of *apps* from empty, by
    kind (an in-process loop with serve's settings, so its client can be listened to)."""
    repo = GitRepo(tmp / "requests-repo")
    repo.commit({f"apps/app-{i:04d}.yaml": app_yaml(f"app-{i:04d}") for i in range(apps)})
    state = tmp / "requests-state"
    db = open_database(StateDir(state))
    settings = LoopSettings(repo=str(repo.path), state_dir=state)
    source = source_id(settings.repo, branch=settings.branch, apps_dir=settings.apps_dir)
    runtime = DockerRuntime(source=source, grace_seconds=2)
    loop = Loop(settings=settings, runtime=runtime, status=StatusStore(db))
    try:
        with profiling.engine_requests(runtime.client) as seen:
            started = time.perf_counter()
            loop.run_pass()
            wall = time.perf_counter() - started
    finally:
        db.close()
        clean_apps(docker.from_env())
    return profiling.request_totals(
        f"converge of {apps} apps (an in-process loop, an extra untimed run)",
        wall=wall,
        workers=settings.workers,
        requests=list(seen),
    )


def profile_converge(tmp: Path, apps: int) -> str:
    """The serve process sampled through an extra, untimed converge of *apps* from empty."""
    repo = GitRepo(tmp / "profile-repo")
    repo.commit({f"apps/app-{i:04d}.yaml": app_yaml(f"app-{i:04d}") for i in range(apps)})
    holder: dict[str, Any] = {}

    def attach(pid: int) -> None:
        holder["context"] = profiling.sampling(pid)
        holder["summary"] = holder["context"].__enter__()

    try:
        serve_converge(repo, tmp / "serve-profile", apps, on_start=attach)
    finally:
        if "context" in holder:
            holder["context"].__exit__(None, None, None)
        clean_apps(docker.from_env())
    summary = holder.get("summary", ["no profile"])[0]
    return f"converge of {apps} apps (gitberth serve, an extra untimed run):\n{summary}"


# --- reviewing a deploy: plan --base --head ---------------------------------------------------


def plan_review(quick: bool) -> Scenario:
    apps, changed, rounds = (200, 20, 3) if quick else (1000, 100, 7)
    scenario = Scenario(
        "plan-review",
        f"`gitberth plan --base --head` over {apps} manifests",
        {"apps": apps, "changed": changed, "rounds": rounds},
        note=(
            f"Both sides run as processes, as CI runs them, over the same two revisions ({apps} "
            f"manifests, {changed} changed): the full review (read both revisions from Git, "
            "validate every manifest, diff every app) against `git diff --stat`."
        ),
    )
    plan = scenario.add("gitberth plan (process)", role="ours", unit="s")
    diff = scenario.add("git diff --stat", role="baseline", unit="s")
    with tempfile.TemporaryDirectory(prefix="gitberth-bench-") as scratch:
        path = Path(scratch) / "repo"
        make_repo(path, apps=apps, changed=changed)
        plan_command = [
            GITBERTH,
            "plan",
            "--repo",
            str(path),
            "--base",
            "main",
            "--head",
            "feature",
            "--format",
            "json",
        ]
        diff_command = ["git", "-C", str(path), "diff", "--stat", "main", "feature"]
        for _ in range(rounds):
            diff.append(timed(diff_command, expect=0))
            plan.append(timed(plan_command, expect=2))
        scenario.target(
            "≤ 1 s including process start", series="gitberth plan (process)", op="<=", limit=1.0
        )
        if scenario.missed() and profile_wanted():
            scenario.profile = profiling.profile_command(plan_command)
    return scenario


# --- Swarm runtime vs docker stack deploy (see bench/swarm_scenarios.py) ---------------------


def swarm(quick: bool) -> Scenario:
    rounds, services, converge_rounds = (3, 20, 1) if quick else (10, 100, 3)
    scenario = Scenario(
        "swarm",
        "Swarm runtime: commit → all tasks running, vs docker stack deploy",
        {"rounds": rounds, "new_services": services, "converge_rounds": converge_rounds},
        note=swarm_scenarios.__doc__ or "",
    )
    one = swarm_scenarios.one_change(rounds)
    scenario.add("gitberth swarm: one-service change", role="ours", unit="s").extend(one.ours)
    scenario.add("stack deploy: one-service change", role="baseline", unit="s").extend(one.theirs)
    many = swarm_scenarios.converge(services, converge_rounds)
    scenario.add(f"gitberth swarm: {services} new services", role="ours", unit="s").extend(
        many.ours
    )
    scenario.add(f"stack deploy: {services} new services", role="baseline", unit="s").extend(
        many.theirs
    )
    scenario.add(
        f"stack deploy: {services} new services, a network each", role="observed", unit="s"
    ).extend(many.theirs_isolated)
    scenario.target(
        "one-service change ≤ 1.0× stack deploy",
        series="gitberth swarm: one-service change",
        baseline="stack deploy: one-service change",
        op="<=",
        limit=1.0,
    )
    scenario.target(
        f"{services} new services ≤ 0.8× stack deploy",
        series=f"gitberth swarm: {services} new services",
        baseline=f"stack deploy: {services} new services",
        op="<=",
        limit=0.8,
    )
    if scenario.missed():  # the engine requests were recorded during the timed rounds
        scenario.profile = "\n\n".join(
            [
                swarm_breakdown("one-service change, commit → task running", one, parallel=False),
                swarm_breakdown(
                    f"{services} new services, commit → all running", many, parallel=True
                ),
            ]
        )
    return scenario


def swarm_breakdown(name: str, sides: swarm_scenarios.Sides, *, parallel: bool) -> str:
    """gitberth's engine requests per round of *sides*, beside the stack's wall time (its
    requests are the docker CLI's, which this process does not see). A *parallel* round
    (many services, applied by several workers at once) is summed by kind instead."""
    stack_median = statistics.median(sides.theirs) if sides.theirs else math.nan
    if parallel and sides.our_rounds:
        wall, requests = sides.our_rounds[-1]
        ours = profiling.request_totals(
            f"gitberth swarm, {name} (last round)",
            wall=wall,
            workers=SwarmRuntime.apply_workers,
            requests=requests,
        )
    else:
        ours = profiling.round_breakdown(f"gitberth swarm, {name}", sides.our_rounds)
    phases = sides.our_phases or sides.their_phases
    return (
        ours
        + "\n  (waiting for tasks to run is outside gitberth's requests: Swarm schedules them)"
        + f"\ndocker stack deploy, {name}: {stack_median * 1000:.0f} ms per round (median)"
        + (isolation_line(sides) if sides.theirs_isolated else "")
        + ("\n\n" + swarm_scenarios.one_change_phases(sides) if phases else "")
    )


def isolation_line(sides: swarm_scenarios.Sides) -> str:
    """The stack given gitberth's isolation (a network per service), beside gitberth: how
    much of the gap to the plain stack is the networks' cost rather than gitberth's."""
    isolated = statistics.median(sides.theirs_isolated)
    ours = statistics.median(sides.ours) if sides.ours else math.nan
    return (
        f"\ndocker stack deploy of the same stack with a network per service (gitberth's"
        f" isolation): {isolated * 1000:.0f} ms per round (median); gitberth is"
        f" {ours / isolated:.2f}× that"
    )


SCENARIOS: dict[str, Callable[[bool], Scenario]] = {
    "secret-writes": secret_writes,
    "commit-replace": commit_replace,
    "scale": scale,
    "plan-review": plan_review,
    "swarm": swarm,
}


def failed_scenario(name: str, *, error: str) -> Scenario:
    """The scenario *name* that raised *error*, as far as it got: its parameters and every
    sample taken, without targets (they would be judged on partial samples)."""
    begun = [scenario for scenario in STARTED if scenario.id == name]
    if not begun:
        scenario = Scenario(name, name, {}, error=error)
    else:
        scenario = begun[-1]
        scenario.error, scenario.targets = error, []
    if not any(samples for _, _, samples in scenario.series.values()):
        scenario.add("no samples", role="ours", unit="s")
    return scenario


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer rounds, smaller")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), default=[])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument(
        "--into",
        type=Path,
        help="add the scenarios run now to an earlier run's samples file (replacing its "
        "scenarios of the same id), e.g. the hour-long 1,000-app scenario run apart",
    )
    args = parser.parse_args()
    PROFILES["wanted"] = not args.quick
    run: dict[str, Any] = {
        "schema": 1,
        "started": now(),
        "finished": "",
        "quick": args.quick,
        "machine": machine_facts(),
        "scenarios": [],
    }
    # Bytecode caches exist on every installed copy (pip compiles them); this host may set
    # PYTHONDONTWRITEBYTECODE, which would make every `gitberth` process compile its imports.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            str(ROOT / "src"),
            sysconfig.get_paths()["purelib"],
        ],
        capture_output=True,
        check=False,
    )
    for name in args.only or list(SCENARIOS):
        print(f"bench: {name}{' (quick)' if args.quick else ''} …", flush=True)
        started = time.perf_counter()
        try:
            scenario = SCENARIOS[name](args.quick)
        except Exception as exc:  # a failed scenario is reported, the others still run
            traceback.print_exc()
            scenario = failed_scenario(name, error=f"{type(exc).__name__}: {exc}")
        data = scenario.as_json()
        data["seconds"] = round(time.perf_counter() - started, 1)
        run["scenarios"].append(data)
        for target in data["targets"]:
            verdict = evaluate(data, target)
            print(f"  {verdict.description}: {verdict.measured:.3g} → {verdict.label}", flush=True)
    run["finished"] = now()
    validate(run)
    if args.into is not None:
        run = merge_runs(json.loads(args.into.read_text()), run)
        validate(run)
        path = args.into
    else:
        args.results.mkdir(parents=True, exist_ok=True)
        path = results_path(run, directory=args.results)
    path.write_text(json.dumps(run, indent=1) + "\n")
    print(f"bench: samples in {path}")
    if args.quick:
        print(
            "bench: a smoke run leaves docs/benchmarks.md and README.md to the last full run; "
            f"`python bench/report.py {path} --docs DIR --no-readme` renders it elsewhere"
        )
    elif not args.no_report:
        markdown = report.write_report(
            run_path=path, docs_dir=ROOT / "docs", readme=ROOT / "README.md"
        )
        print(f"bench: report in {markdown}")
    return 0


def merge_runs(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """One samples file from two runs on the same host and of the same kind (full or smoke):
    the later run's scenarios replace the earlier's of the same id, in the order ``make
    bench`` runs them, and the file spans both runs. Each scenario keeps its own load average
    and duration, so the report still says when and under what load each ran."""
    for key in ("quick", "schema"):
        if earlier[key] != later[key]:
            raise SystemExit(f"bench: cannot merge runs that differ in {key!r}")
    if earlier["machine"]["host"] != later["machine"]["host"]:
        raise SystemExit("bench: cannot merge runs of different hosts")
    replaced = {scenario["id"] for scenario in later["scenarios"]}
    scenarios = [s for s in earlier["scenarios"] if s["id"] not in replaced]
    scenarios += later["scenarios"]
    order = {name: index for index, name in enumerate(SCENARIOS)}
    scenarios.sort(key=lambda scenario: order.get(scenario["id"], len(order)))
    return {
        **later,
        "started": min(earlier["started"], later["started"]),
        "finished": max(earlier["finished"], later["finished"]),
        "scenarios": scenarios,
    }


def results_path(run: dict[str, Any], *, directory: Path) -> Path:
    """Where a run's samples go: ``<date>-<host>.json``, and ``<date>-<host>-quick.json`` for a
    smoke run, so a smoke run never replaces the samples of that day's full run (which
    docs/benchmarks.md and the README quote); Git ignores the smoke runs' files."""
    suffix = "-quick" if run["quick"] else ""
    return directory / f"{run['started'][:10]}-{run['machine']['host']}{suffix}.json"


if __name__ == "__main__":
    raise SystemExit(main())
