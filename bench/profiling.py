"""Sample where gitberth spends its time with py-spy, and boil the stacks down to a few lines.

Only called for a target that was missed, in an extra round that is not timed (sampling slows
the process down a little). The summary keeps the frames a reader can act on: gitberth's own
functions by inclusive share, and the leaf frames (where the CPU or the wait really is) by
self share.
"""

from __future__ import annotations

import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitberth.runtime.engine_calls import request_kind

PY_SPY = str(Path(sys.executable).with_name("py-spy"))


def available() -> bool:
    return Path(PY_SPY).exists() or shutil.which("py-spy") is not None


def summarize(collapsed: str, *, top: int = 12) -> str:
    """Top frames of py-spy's ``--format raw`` output (``frame;frame;... count`` per line)."""
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame]
        total += count
        if frames:
            leaf[frames[-1]] += count
        for frame in set(frames):
            if "gitberth" in frame:
                inclusive[frame] += count
    if not total:
        return "py-spy collected no samples"
    lines = [f"{total} samples; gitberth frames by inclusive share:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines.append("leaf frames by self share (where the time is spent):")
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in leaf.most_common(top)]
    return "\n".join(lines)


@contextmanager
def sampling(pid: int, *, idle: bool = True) -> Iterator[list[str]]:
    """Sample *pid* (with threads' idle frames, so waits show) while the block runs.

    Yields a one-item list that holds the summary once the block has finished.
    """
    summary: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gitberth-pyspy-") as tmp:
        output = Path(tmp) / "stacks.txt"
        command = [PY_SPY, "record", "--pid", str(pid), "--format", "raw", "--rate", "200"]
        command += ["--nonblocking", "--threads", "-o", str(output)]
        if idle:
            command.append("--idle")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            yield summary
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
            if output.exists():
                summary.append(summarize(output.read_text()))
            else:
                summary.append(f"py-spy recorded nothing: {stderr.decode(errors='replace')[-300:]}")


def profile_command(command: list[str]) -> str:
    """Run *command* under py-spy from its start (process start-up included); summarize."""
    with tempfile.TemporaryDirectory(prefix="gitberth-pyspy-") as tmp:
        output = Path(tmp) / "stacks.txt"
        subprocess.run(
            [PY_SPY, "record", "--format", "raw", "--rate", "500", "-o", str(output), "--"]
            + command,
            capture_output=True,
            check=False,
        )
        return summarize(output.read_text()) if output.exists() else "py-spy recorded nothing"


# --- where a round's wall time goes: the engine requests on its critical path ----------------

EngineRequest = tuple[str, float]
"""One engine request: its kind (:func:`~gitberth.runtime.engine_calls.request_kind`) and how
long it took."""


@contextmanager
def hearing_responses(client: Any, hear: Callable[[Any], None]) -> Iterator[None]:
    """Call *hear* with each answer a docker SDK *client* receives while the block runs (a
    ``requests`` response hook, removed afterwards)."""

    def hook(response: Any, *args: Any, **kwargs: Any) -> None:
        hear(response)

    hooks = client.api.hooks["response"]
    hooks.append(hook)
    try:
        yield
    finally:
        hooks.remove(hook)


@contextmanager
def engine_requests(client: Any) -> Iterator[list[EngineRequest]]:
    """Every request a docker SDK *client* sends while the block runs, with its duration
    (until the engine's answer arrived: ``requests``' own ``elapsed``)."""
    seen: list[EngineRequest] = []

    def record(response: Any) -> None:
        request = response.request
        seen.append(
            (request_kind(request.method, request.path_url or ""), response.elapsed.total_seconds())
        )

    with hearing_responses(client, record):
        yield seen


@contextmanager
def change_answered(client: Any) -> Iterator[list[float]]:
    """The moments (``time.perf_counter()``) at which the engine answered each request of a
    docker SDK *client* that changes something (any method but GET/HEAD) while the block runs:
    the first of them ends the part of a round spent deciding what to change."""
    moments: list[float] = []

    def record(response: Any) -> None:
        if response.request.method not in ("GET", "HEAD"):
            moments.append(time.perf_counter())

    with hearing_responses(client, record):
        yield moments


Phases = tuple[float, float]
"""One round cut in two: seconds until the change reached the engine, and seconds after."""


def phase_split(*, title: str, first: str, then: str, sides: dict[str, list[Phases]]) -> str:
    """Each side's median seconds before and after its change reached the engine: which of
    them is slower, deciding and sending the change, or the engine carrying it out."""
    names = list(sides)
    header = f"  {'':<44}" + "".join(f"{name:>14}" for name in names)
    lines = [title, header]
    for label, index in ((first, 0), (then, 1)):
        cells = "".join(
            f"{statistics.median(p[index] for p in rounds) * 1000:11.0f} ms"
            if rounds
            else f"{'–':>14}"
            for rounds in sides.values()
        )
        lines.append(f"  {label:<44}{cells}")
    return "\n".join(lines)


def round_breakdown(name: str, rounds: list[tuple[float, list[EngineRequest]]]) -> str:
    """Where the time of *rounds* (each: its wall seconds and its engine requests) went: each
    kind of request with its count and time per round, and what is left outside them (for
    gitberth: noticing the commit, reading and planning it, the health gate's waits)."""
    if not rounds:
        return f"{name}: no rounds"
    per_kind: dict[str, list[tuple[int, float]]] = {}
    for _, requests in rounds:
        totals: dict[str, tuple[int, float]] = {}
        for kind, seconds in requests:
            count, spent = totals.get(kind, (0, 0.0))
            totals[kind] = (count + 1, spent + seconds)
        for kind in totals | {k: (0, 0.0) for k in per_kind}:
            per_kind.setdefault(kind, []).append(totals.get(kind, (0, 0.0)))
    wall = statistics.median(seconds for seconds, _ in rounds)
    inside = statistics.median(sum(s for _, s in requests) for _, requests in rounds)
    lines = [f"{name}: {wall * 1000:.0f} ms per round (median of {len(rounds)})"]
    for kind, samples in sorted(per_kind.items(), key=lambda item: -sum(s for _, s in item[1])):
        count = statistics.median(c for c, _ in samples)
        spent = statistics.median(s for _, s in samples)
        lines.append(f"  {kind:<38} {count:>4g}×  {spent * 1000:6.0f} ms")
    lines.append(f"  {'in engine requests':<38}        {inside * 1000:6.0f} ms")
    lines.append(f"  {'outside them':<38}        {(wall - inside) * 1000:6.0f} ms")
    return "\n".join(lines)


def request_totals(name: str, *, wall: float, workers: int, requests: list[EngineRequest]) -> str:
    """What the engine spent a parallel run's time on: each kind of request with its count,
    its mean and its total. With *workers* threads at once, the totals add up to more than
    the wall time; the means say which kind of request is slow."""
    totals: dict[str, list[float]] = {}
    for kind, seconds in requests:
        totals.setdefault(kind, []).append(seconds)
    lines = [
        f"{name}: {wall:.1f} s wall, {len(requests)} engine requests from {workers} workers at once"
    ]
    for kind, samples in sorted(totals.items(), key=lambda item: -sum(item[1])):
        lines.append(
            f"  {kind:<38} {len(samples):>5}×  mean {statistics.fmean(samples) * 1000:6.0f} ms"
            f"  total {sum(samples):7.1f} s"
        )
    return "\n".join(lines)
