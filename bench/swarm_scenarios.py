"""gitberth's Swarm runtime beside ``docker stack deploy`` of the equivalent compose file.

Both sides run on the same single-node swarm (the tests' own, started by
``scripts/swarm-engine.sh``; ``GITBERTH_SWARM_*`` variables move it), the same image and the
same change, and both clocks stop on the same engine condition: every task of the changed (or
new) services runs the new spec. gitberth's clock starts when the commit exists (a running loop
notices it, plans per service and calls Swarm); the stack's when ``docker stack deploy`` starts.

- one-service change: one env line of one service changes (start-first update on both sides);
- converge: N new services appear at once (one app each on gitberth's side, one stack file of N
  services on the other). The stack runs twice: as compose users write it (every service on
  the stack's one network) and with a network per service, the isolation gitberth gives every
  app; the second is observed beside the target, to tell the network's cost from gitberth's.

Run alone: ``.venv/bin/python bench/swarm_scenarios.py [--quick]``; ``bench/run.py`` runs it as
the ``swarm`` scenario.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.support.gitrepo import GitRepo  # noqa: E402
from tests.support.swarm import (  # noqa: E402
    connect,
    remove_gitberth_services,
    swarm_engine,
    swarm_host,
)

from bench import profiling  # noqa: E402
from gitberth.database import open_database  # noqa: E402
from gitberth.loop import Loop, LoopSettings  # noqa: E402
from gitberth.runtime.swarm import SwarmRuntime  # noqa: E402
from gitberth.state import StateDir  # noqa: E402
from gitberth.status import StatusStore  # noqa: E402

IMAGE = "gitberth/example-web:1.0"
TIMEOUT = 300.0

Round = tuple[float, list[profiling.EngineRequest]]
"""One gitberth round: its seconds and the requests gitberth's runtime sent meanwhile (the
waits for tasks go through another client, so they are not among them)."""


@dataclasses.dataclass
class Sides:
    """Each side's seconds per round, and gitberth's rounds with their engine requests (for
    the profile of a missed target: recording them costs one list append per request)."""

    ours: list[float] = dataclasses.field(default_factory=list)
    theirs: list[float] = dataclasses.field(default_factory=list)
    our_rounds: list[Round] = dataclasses.field(default_factory=list)
    our_phases: list[profiling.Phases] = dataclasses.field(default_factory=list)
    """One-change rounds: commit → gitberth's first change answered by Swarm, then → running."""
    their_phases: list[profiling.Phases] = dataclasses.field(default_factory=list)
    """One-change rounds: the ``docker stack deploy`` process, then its exit → running."""
    theirs_isolated: list[float] = dataclasses.field(default_factory=list)
    """Converge rounds: the same stack with a network per service, as gitberth isolates apps."""


def manifest(name: str, *, value: str) -> str:
    return (
        f"name: {name}\nimage: {IMAGE}\nenv: {{ROUND: '{value}'}}\n"
        f"command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']\n"
    )


def stack_file(names: list[str], *, values: dict[str, str], network_each: bool = False) -> str:
    """The compose file ``docker stack deploy`` gets: the same services, start-first; with
    *network_each*, every service on an overlay network of its own (gitberth's isolation)."""
    lines = ["version: '3.8'", "services:"]
    for name in names:
        lines += [
            f"  {name}:",
            f"    image: {IMAGE}",
            "    command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']",
            f"    environment: {{ROUND: '{values[name]}'}}",
            "    deploy:",
            "      update_config: {order: start-first, failure_action: rollback}",
        ]
        if network_each:
            lines.append(f"    networks: [{name}]")
    if network_each:
        lines += ["networks:", *(f"  {name}: {{}}" for name in names)]
    return "\n".join(lines) + "\n"


def running_with(client: docker.DockerClient, *, label: str, env: dict[str, str]) -> int:
    """How many services (selected by *label*) have a running task with their wanted env."""
    services = {s["ID"]: s["Spec"]["Name"] for s in client.api.services(filters={"label": label})}
    done = set()
    for task in client.api.tasks(filters={"desired-state": "running"}):
        name = services.get(task.get("ServiceID"))
        if name is None or task["Status"]["State"] != "running":
            continue
        wanted = env.get(name)
        if wanted is not None and wanted in (task["Spec"]["ContainerSpec"].get("Env") or []):
            done.add(name)
    return len(done)


def wait_running(client: docker.DockerClient, *, label: str, env: dict[str, str]) -> None:
    started = time.perf_counter()
    while running_with(client, label=label, env=env) < len(env):
        if time.perf_counter() - started > TIMEOUT:
            raise RuntimeError(f"{len(env)} services did not run the new spec in {TIMEOUT} s")
        time.sleep(0.05)


@contextlib.contextmanager
def on_swarm() -> Iterator[docker.DockerClient]:
    """DOCKER_HOST points at the swarm for the loop's event stream and the docker CLI."""
    previous = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = swarm_host()
    client = swarm_engine()
    remove_gitberth_services(client)
    try:
        yield client
    finally:
        remove_gitberth_services(client)
        if previous is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = previous


@contextlib.contextmanager
def running_loop(repo: GitRepo, state: Path) -> Iterator[Loop]:
    """A running loop on the swarm, with a client of its own: the bench's polls for tasks go
    through another, so the requests recorded on this one are gitberth's only."""
    db = open_database(StateDir(state))
    runtime_client = connect()
    loop = Loop(
        settings=LoopSettings(repo=str(repo.path), state_dir=state),
        runtime=SwarmRuntime(
            runtime_client, source="bench-swarm", grace_seconds=2, connect=connect
        ),
        status=StatusStore(db),
    )
    loop.start()
    try:
        yield loop
    finally:
        loop.stop()
        db.close()
        runtime_client.close()


def stack(project: Path, text: str) -> None:
    project.mkdir(parents=True, exist_ok=True)
    (project / "stack.yml").write_text(text)
    done = subprocess.run(
        ["docker", "stack", "deploy", "-c", "stack.yml", project.name],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker stack deploy: {done.stderr[-800:]}")


def stack_remove(client: docker.DockerClient, project: Path) -> None:
    subprocess.run(["docker", "stack", "rm", project.name], capture_output=True, check=False)
    deadline = time.monotonic() + 60
    label = f"com.docker.stack.namespace={project.name}"
    while time.monotonic() < deadline and (
        client.api.services(filters={"label": label})
        or client.api.networks(filters={"label": label})
        or client.api.containers(all=True, filters={"label": label})
    ):
        time.sleep(0.2)


def one_change(rounds: int) -> Sides:
    """Seconds from commit (gitberth) / ``stack deploy`` (baseline) to the changed task running."""
    sides = Sides()
    with on_swarm() as client, tempfile.TemporaryDirectory(prefix="gb-swarm-") as tmp_name:
        tmp = Path(tmp_name)
        repo = GitRepo(tmp / "repo")
        repo.commit({"apps/one.yaml": manifest("one", value="start")})
        project = tmp / "gbswone"
        stack(project, stack_file(["web"], values={"web": "start"}))
        label = f"com.docker.stack.namespace={project.name}"
        wait_running(client, label=label, env={f"{project.name}_web": "ROUND=start"})
        try:
            with running_loop(repo, tmp / "state") as loop:
                loop.wait_for_passes(1, timeout=120)
                wait_running(client, label="gitberth.app=one", env={"one": "ROUND=start"})
                runtime_client = loop.runtime.client  # type: ignore[attr-defined]

                def ours(value: int) -> None:
                    with (
                        profiling.engine_requests(runtime_client) as seen,
                        profiling.change_answered(runtime_client) as changed,
                    ):
                        started, took = commit_round(client, repo, value)
                    sides.ours.append(took)
                    sides.our_rounds.append((took, list(seen)))
                    if changed:
                        sent = changed[0] - started
                        sides.our_phases.append((sent, took - sent))

                def theirs(value: int) -> None:
                    sent, took = stack_round(client, project, value)
                    sides.theirs.append(took)
                    sides.their_phases.append((sent, took - sent))

                for value in range(rounds):
                    for side in (ours, theirs) if value % 2 == 0 else (theirs, ours):
                        side(value)
        finally:
            stack_remove(client, project)
    return sides


def commit_round(client: docker.DockerClient, repo: GitRepo, value: int) -> tuple[float, float]:
    """When the commit existed (``time.perf_counter()``) and seconds until the task ran."""
    repo.commit({"apps/one.yaml": manifest("one", value=str(value))})
    started = time.perf_counter()
    wait_running(client, label="gitberth.app=one", env={"one": f"ROUND={value}"})
    return started, time.perf_counter() - started


def stack_round(client: docker.DockerClient, project: Path, value: int) -> tuple[float, float]:
    """Seconds the ``docker stack deploy`` process took, and until the new task ran."""
    started = time.perf_counter()
    stack(project, stack_file(["web"], values={"web": str(value)}))
    deployed = time.perf_counter() - started
    label = f"com.docker.stack.namespace={project.name}"
    wait_running(client, label=label, env={f"{project.name}_web": f"ROUND={value}"})
    return deployed, time.perf_counter() - started


def converge(services: int, rounds: int) -> Sides:
    """Seconds until *services* new services all run, from commit / ``stack deploy``."""
    sides = Sides()
    names = [f"s{i:03d}" for i in range(services)]
    for round_index in range(rounds):
        with on_swarm() as client, tempfile.TemporaryDirectory(prefix="gb-swarm-") as tmp_name:
            tmp = Path(tmp_name)
            repo = GitRepo(tmp / "repo")
            project = tmp / "gbswmany"
            label = f"com.docker.stack.namespace={project.name}"
            values = dict.fromkeys(names, "v")
            wanted = {f"{project.name}_{n}": "ROUND=v" for n in names}
            for network_each, taken in ((False, sides.theirs), (True, sides.theirs_isolated)):
                try:
                    started = time.perf_counter()
                    stack(project, stack_file(names, values=values, network_each=network_each))
                    wait_running(client, label=label, env=wanted)
                    taken.append(time.perf_counter() - started)
                finally:
                    stack_remove(client, project)
            repo.commit({"README": f"round {round_index}\n"})
            with running_loop(repo, tmp / "state") as loop:
                loop.wait_for_passes(1, timeout=60)
                runtime_client = loop.runtime.client  # type: ignore[attr-defined]
                with profiling.engine_requests(runtime_client) as seen:
                    repo.commit({f"apps/{n}.yaml": manifest(n, value="v") for n in names})
                    started = time.perf_counter()
                    wait_running(client, label="gitberth.app", env={n: "ROUND=v" for n in names})
                    took = time.perf_counter() - started
                sides.ours.append(took)
                sides.our_rounds.append((took, list(seen)))
    return sides


def one_change_phases(sides: Sides) -> str:
    """Both sides of the one-service change cut where the change reaches Swarm."""
    return profiling.phase_split(
        title="one-service change, per round (medians):",
        first="until the change reaches Swarm",
        then="then until the new task runs",
        sides={"gitberth": sides.our_phases, "stack deploy": sides.their_phases},
    ) + (
        "\n  (gitberth: from the commit, noticing, reading and planning it, until Swarm answers"
        " its update; stack deploy: the docker CLI process, which exits once Swarm has the"
        " update)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds, services = (3, 20) if args.quick else (10, 100)
    one = one_change(rounds)
    print(
        f"one change: gitberth {statistics.median(one.ours):.2f}s, "
        f"stack {statistics.median(one.theirs):.2f}s"
    )
    print(profiling.round_breakdown("gitberth", one.our_rounds))
    print(one_change_phases(one))
    many = converge(services, 1 if args.quick else 3)
    print(
        f"{services} new: gitberth {statistics.median(many.ours):.2f}s, "
        f"stack {statistics.median(many.theirs):.2f}s"
    )
    print(profiling.round_breakdown("gitberth", many.our_rounds))
    print(f"stack, a network per service: {statistics.median(many.theirs_isolated):.2f}s")


if __name__ == "__main__":
    main()
