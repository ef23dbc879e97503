"""Commit to running: a running ``Loop`` picks up a commit by itself and rolls the app out,
as a ratio to a hand-written docker SDK stop + remove + run of the same change.

gitberth's side is timed from the moment the commit exists until the loop reports the app
Synced at that commit: the watcher noticing the ref, reading and planning, starting the new
container, waiting until it answers on its port, stopping the old one and renaming (a
start-first rollout). The baseline only stops, removes and runs, with no health wait.
Target: ratio <= 1.5.

Run: DOCKER_HOST=... .venv/bin/python bench/loop_commit_latency.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.engine import ensure_example_image  # noqa: E402
from tests.support.gitrepo import GitRepo, app_yaml  # noqa: E402

from bench.baseline import BENCH_LABEL, remove_labelled, sdk_replace_round, start_baseline  # noqa: E402
from gitberth.core.sync_status import SyncState  # noqa: E402
from gitberth.database import open_database  # noqa: E402
from gitberth.loop import Loop, LoopSettings  # noqa: E402
from gitberth.runtime.docker import DockerRuntime  # noqa: E402
from gitberth.state import StateDir  # noqa: E402
from gitberth.status import StatusStore  # noqa: E402


def loop_round(repo: GitRepo, loop: Loop, value: int) -> float:
    sha = repo.commit({"apps/bench.yaml": app_yaml("bench", env={"ROUND": str(value)})})
    started = time.perf_counter()
    while True:
        state = loop.status.app("bench")
        if state and state.sync is SyncState.SYNCED and state.applied_revision == sha:
            return time.perf_counter() - started
        if time.perf_counter() - started > 60:
            raise RuntimeError(f"round {value} did not converge: {state}")
        time.sleep(0.002)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    client = docker.from_env()
    ensure_example_image(client)
    remove_labelled(client, BENCH_LABEL, "gitberth.app=bench")
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        repo = GitRepo(tmp / "repo")
        repo.commit({"apps/bench.yaml": app_yaml("bench", env={"ROUND": "start"})})
        db = open_database(StateDir(tmp / "state"))
        loop = Loop(
            settings=LoopSettings(repo=str(repo.path), state_dir=tmp / "state"),
            runtime=DockerRuntime(source="bench", grace_seconds=10),
            status=StatusStore(db),
        )
        loop.start()
        start_baseline(client)
        try:
            loop.wait_for_passes(1, timeout=30)
            for value in range(args.rounds):
                # Interleave so engine warm-up and background noise hit both sides alike.
                ours.append(loop_round(repo, loop, value))
                theirs.append(sdk_replace_round(client, value))
                time.sleep(0.3)  # let the loop's trailing pass (Docker events) settle
        finally:
            loop.stop()
            db.close()
            remove_labelled(client, BENCH_LABEL, "gitberth.app=bench")
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"rounds: {args.rounds}")
    print(
        "gitberth loop (watch, read, plan, start-first rollout with health wait): "
        f"{ours_median * 1000:.0f} ms"
    )
    print(
        "docker SDK stop + remove + run (baseline):                              "
        f"{theirs_median * 1000:.0f} ms"
    )
    print(f"ratio gitberth / baseline: {ours_median / theirs_median:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
