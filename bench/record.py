"""The recorded result of one benchmark run, and the arithmetic every report draws from it.

A run is plain JSON (``bench/results/<date>-<host>.json``, schema ``results.schema.json``) so
anyone can re-plot it or compare two machines without running anything. Targets are stored as
*specifications* (which series, which statistic, which limit), never as verdicts: the verdict is
recomputed from the samples here, so the report cannot disagree with the data it shows.
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
SCHEMA_VERSION = 1


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return schema


def validate(run: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` naming the offending field when *run* is malformed."""
    jsonschema.validate(run, load_schema())


def load_run(path: Path) -> dict[str, Any]:
    run: dict[str, Any] = json.loads(path.read_text())
    validate(run)
    return run


def statistic(samples: Sequence[float], name: str) -> float:
    """``min``, ``median``, ``max``, ``mean``, ``p99`` (nearest rank) or ``sum`` of *samples*."""
    if not samples:
        return math.nan
    if name == "min":
        return min(samples)
    if name == "max":
        return max(samples)
    if name == "median":
        return statistics.median(samples)
    if name == "mean":
        return statistics.fmean(samples)
    if name == "sum":
        return math.fsum(samples)
    if name == "p99":
        ordered = sorted(samples)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    raise ValueError(f"unknown statistic {name!r}")


@dataclass(frozen=True)
class Verdict:
    """One target evaluated against a run: what was measured, against what limit, met or not."""

    description: str
    measured: float
    limit: float
    op: str
    kind: str
    met: bool

    @property
    def judged(self) -> bool:
        """False when a series the target needs has no samples (its side failed to run)."""
        return not math.isnan(self.measured)

    @property
    def label(self) -> str:
        if not self.judged:
            return "not judged"
        return "met" if self.met else "MISSED"


def series_samples(scenario: dict[str, Any], name: str) -> list[float]:
    for series in scenario["series"]:
        if series["name"] == name:
            return [float(value) for value in series["samples"]]
    raise KeyError(f"scenario {scenario['id']!r} has no series {name!r}")


def evaluate(scenario: dict[str, Any], target: dict[str, Any]) -> Verdict:
    """Compute *target* over *scenario*'s samples: a ratio of two series or a plain value."""
    ours = statistic(series_samples(scenario, target["series"]), target["statistic"])
    if target["kind"] == "ratio":
        theirs = statistic(series_samples(scenario, target["baseline"]), target["statistic"])
        measured = ours / theirs if theirs else math.inf
    else:
        measured = ours
    limit = float(target["limit"])
    met = measured <= limit if target["op"] == "<=" else measured >= limit
    return Verdict(
        description=target["description"],
        measured=measured,
        limit=limit,
        op=target["op"],
        kind=target["kind"],
        met=met and not math.isnan(measured),
    )


def verdicts(scenario: dict[str, Any]) -> list[Verdict]:
    return [evaluate(scenario, target) for target in scenario["targets"]]


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def machine_facts() -> dict[str, Any]:
    """What a reader needs to judge the numbers: the host's size, kernel and the tools' versions."""

    def version(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        except OSError:
            return "not installed"
        return (done.stdout.strip() or done.stderr.strip() or "unknown").splitlines()[0]

    ram_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "host": socket.gethostname(),
        "cores": os.cpu_count() or 0,
        "ram_mib": ram_kib // 1024,
        "kernel": platform.release(),
        "docker_version": version(["docker", "version", "--format", "{{.Server.Version}}"]),
        "compose_version": version(["docker-compose", "version", "--short"]),
        "python_version": sys.version.split()[0],
        "load_average_start": load_average(),
    }
