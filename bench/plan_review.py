"""Cost of reviewing a deploy: `gitberth plan --base --head` over 1,000 manifests with 100
changed, as a ratio to a plain `git diff --stat` of the same two revisions in the same run.

`git diff --stat` is the least a CI job does to show a pull request; the ratio says what the
full review (read both revisions from Git objects, validate 2,000 manifests, diff every app,
name every container) costs on top of it. Both run as subprocesses, as CI would run them, so
process start-up counts on both sides. The in-process time of the review is printed too, and
the work `gitberth validate` does for the same manifests (its time minus that for one file).

Run: .venv/bin/python bench/plan_review.py [--apps 1000] [--changed 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import git

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gitberth.cli.review_commands import build_plan_report  # noqa: E402

GITBERTH = str(Path(sys.executable).with_name("gitberth"))


def manifest(index: int, *, version: str) -> str:
    return f"""\
# yaml-language-server: $schema=../schemas/app.schema.json
name: app{index:04}
envFrom: [shared-creds]
services:
  - name: web
    image: acme/web:{version}
    port: 8080
    replicas: 2
    env:
      LOG_LEVEL: info
      GREETING: "hello {index}"
    envFrom: [web-creds]
  - name: worker
    image: acme/worker:1.0
    command: [worker, --queue, default]
    secretFiles: [tls]
"""


def make_repo(path: Path, *, apps: int, changed: int) -> git.Repo:
    """``main`` with *apps* manifests; ``feature`` bumps the image of every (apps/changed)-th."""
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", "bench")
        config.set_value("user", "email", "bench@gitberth.invalid")
        config.set_value("commit", "gpgsign", "false")
    (path / "apps").mkdir()
    for i in range(apps):
        (path / "apps" / f"app{i:04}.yaml").write_text(manifest(i, version="1.0"))
    repo.git.add(A=True)
    repo.index.commit("base")
    repo.git.checkout("-b", "feature")
    step = apps // changed
    for i in range(0, step * changed, step):
        (path / "apps" / f"app{i:04}.yaml").write_text(manifest(i, version="1.1"))
    repo.git.add(A=True)
    repo.index.commit("head")
    return repo


def timed(command: list[str], *, expect: int) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    assert done.returncode == expect, (command, done.returncode, done.stderr[-500:])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gitberth-bench-") as scratch:
        path = Path(scratch) / "repo"
        make_repo(path, apps=args.apps, changed=args.changed)
        plan = [GITBERTH, "plan", "--repo", str(path), "--base", "main", "--head", "feature"]
        plan += ["--format", "json"]
        diff = ["git", "-C", str(path), "diff", "--stat", "main", "feature"]

        report = build_plan_report(
            repo=path,
            branch="main",
            base="main",
            head="feature",
            apps_dir="apps",
            server=None,
            token=None,
        )
        assert report.summary.appsChanged == args.changed, report.summary
        assert report.summary.containersReplaced == 2 * args.changed, report.summary

        validate_all = [GITBERTH, "validate", str(path / "apps")]
        validate_one = [GITBERTH, "validate", str(path / "apps" / "app0000.yaml")]
        plan_times, diff_times, work_times, validate_work = [], [], [], []
        for _ in range(args.rounds):
            diff_times.append(timed(diff, expect=0))
            plan_times.append(timed(plan, expect=2))
            started = time.perf_counter()
            build_plan_report(
                repo=path,
                branch="main",
                base="main",
                head="feature",
                apps_dir="apps",
                server=None,
                token=None,
            )
            work_times.append(time.perf_counter() - started)
            validate_work.append(timed(validate_all, expect=0) - timed(validate_one, expect=0))

    plan_median = statistics.median(plan_times)
    diff_median = statistics.median(diff_times)
    print(f"{args.apps} manifests, {args.changed} changed, median of {args.rounds} rounds")
    print(f"  git diff --stat           {diff_median * 1000:9.1f} ms")
    print(f"  gitberth plan (process)   {plan_median * 1000:9.1f} ms")
    print(f"  gitberth plan (in-process){statistics.median(work_times) * 1000:9.1f} ms")
    print(
        f"  gitberth validate, work for {args.apps} manifests (all minus one file)"
        f" {statistics.median(validate_work) * 1000:.1f} ms"
    )
    print(f"ratio plan / git diff --stat: {plan_median / diff_median:.1f}")


if __name__ == "__main__":
    main()
