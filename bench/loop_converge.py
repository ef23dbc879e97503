"""Converging 100 new apps with the loop's worker pool, as a ratio to serial SDK create+start.

Both sides create and start the same 100 containers (same image, a published port each) on
the same engine in the same run. The loop also reads the commit, validates 100 manifests,
plans and lists. Target: ratio <= 0.6.

Run: DOCKER_HOST=... .venv/bin/python bench/loop_converge.py [--apps 100] [--workers 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.engine import ensure_example_image  # noqa: E402
from tests.support.gitrepo import GitRepo, app_yaml  # noqa: E402

from gitberth.database import open_database  # noqa: E402
from gitberth.loop import Loop, LoopSettings  # noqa: E402
from gitberth.runtime.docker import DockerRuntime  # noqa: E402
from gitberth.state import StateDir  # noqa: E402
from gitberth.status import StatusStore  # noqa: E402

IMAGE = "gitberth/example-web:1.0"
BENCH_LABEL = "gitberth-bench"


def clean(client: docker.DockerClient) -> None:
    for label in (BENCH_LABEL, "gitberth.app"):
        for row in client.api.containers(all=True, filters={"label": label}):
            client.api.remove_container(row["Id"], force=True)


def sdk_serial(client: docker.DockerClient, count: int) -> float:
    started = time.perf_counter()
    for index in range(count):
        container = client.containers.create(
            IMAGE,
            name=f"sdk-{index:03d}-1",
            ports={"8080/tcp": ("127.0.0.1", None)},
            labels={BENCH_LABEL: "1"},
        )
        container.start()
    return time.perf_counter() - started


def loop_converge(count: int, workers: int, tmp: Path) -> float:
    repo = GitRepo(tmp / "repo")
    repo.commit({f"apps/app-{i:03d}.yaml": app_yaml(f"app-{i:03d}") for i in range(count)})
    db = open_database(StateDir(tmp / "state"))
    loop = Loop(
        settings=LoopSettings(repo=str(repo.path), state_dir=tmp / "state", workers=workers),
        runtime=DockerRuntime(source="bench", grace_seconds=2),
        status=StatusStore(db),
    )
    started = time.perf_counter()
    record = loop.run_pass()
    elapsed = time.perf_counter() - started
    db.close()
    assert record.outcome == "applied" and len(record.actions) == count, record.errors
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    client = docker.from_env()
    ensure_example_image(client)
    clean(client)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ours = loop_converge(args.apps, args.workers, Path(tmp))
        clean(client)
        theirs = sdk_serial(client, args.apps)
    finally:
        clean(client)
    print(f"apps: {args.apps}, workers: {args.workers}")
    print(f"gitberth loop pass (read, validate, plan, create+start in parallel): {ours:.1f} s")
    print(f"docker SDK create+start one by one (baseline):                      {theirs:.1f} s")
    print(f"ratio gitberth / baseline: {ours / theirs:.2f}  (target <= 0.6)")


if __name__ == "__main__":
    main()
