"""Apply latency of a one-app change, as a ratio to a hand-written docker SDK replacement.

Both sides replace a container on the same engine in the same run: gitberth starts the new
container first (start-first rollout), waits until it answers on its port, then removes the old
one and renames; the baseline stops, removes and runs. gitberth additionally reads the commit
from Git, validates, plans and lists containers. Target: ratio <= 1.5.

Run: make bench   (or: DOCKER_HOST=... .venv/bin/python bench/apply_latency.py [--rounds N])
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
from gitberth.reconciler import NoSecretStore, reconcile_once  # noqa: E402
from gitberth.runtime.docker import DockerRuntime  # noqa: E402
from gitberth.source import open_repo, read_revision  # noqa: E402


def gitberth_round(repo: GitRepo, runtime: DockerRuntime, value: int) -> float:
    repo.commit({"apps/bench.yaml": app_yaml("bench", env={"ROUND": str(value)})})
    started = time.perf_counter()
    revision = read_revision(open_repo(repo.path))
    result = reconcile_once(revision=revision, runtime=runtime, secrets=NoSecretStore())
    elapsed = time.perf_counter() - started
    assert result.ok and len(result.plan.changes) == 1, result.apps
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    client = docker.from_env()
    ensure_example_image(client)
    remove_labelled(client, BENCH_LABEL, "gitberth.app=bench")

    with tempfile.TemporaryDirectory() as tmp:
        repo = GitRepo(Path(tmp) / "repo")
        runtime = DockerRuntime(source="bench", grace_seconds=10)
        repo.commit({"apps/bench.yaml": app_yaml("bench", env={"ROUND": "start"})})
        reconcile_once(revision=read_revision(open_repo(repo.path)), runtime=runtime)
        start_baseline(client)
        ours: list[float] = []
        theirs: list[float] = []
        try:
            for value in range(args.rounds):
                # Interleave so engine warm-up and background noise hit both sides alike.
                ours.append(gitberth_round(repo, runtime, value))
                theirs.append(sdk_replace_round(client, value))
        finally:
            remove_labelled(client, BENCH_LABEL, "gitberth.app=bench")

    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"rounds: {args.rounds}")
    print(
        f"gitberth apply (git read + plan + stop/remove/create/start): {ours_median * 1000:.0f} ms"
    )
    print(
        f"docker SDK stop + remove + run (baseline):                  {theirs_median * 1000:.0f} ms"
    )
    print(f"ratio gitberth / baseline: {ours_median / theirs_median:.2f}  (target <= 1.5)")


if __name__ == "__main__":
    main()
