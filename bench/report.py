"""Turn a recorded run into ``docs/benchmarks.md``, PNG charts and the README's figures.

Reads only the JSON of a run (never measures anything), so the report can be regenerated for
any recorded run and is tested on a small recorded sample: ``python bench/report.py RUN.json``.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on a server or in CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.record import load_run, series_samples, statistic, verdicts  # noqa: E402

README_START = "<!-- bench:medians:start -->"
README_END = "<!-- bench:medians:end -->"


def fmt(value: float, unit: str) -> str:
    if math.isnan(value):
        return "–"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit == "writes/s":
        return f"{value:.0f}/s"
    return f"{value:g}"


ERROR_SUMMARY_CHARS = 160


def error_summary(error: str) -> str:
    """A failed scenario's error on one line (a table cell; the full text is in its section),
    in backticks, cut at :data:`ERROR_SUMMARY_CHARS` characters: the exception's first line
    with the tool's own last ``ERROR:`` line after it, when the tool printed one (a failed
    command's output is kept from its end, so its first line may be any progress line)."""
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    first = lines[0] if lines else "no message"
    reported = [line for line in lines[1:] if line.startswith("ERROR:")]
    if reported:
        first = f"{': '.join(first.split(': ')[:2])}: … {reported[-1]}"
    if len(first) > ERROR_SUMMARY_CHARS:
        first = first[:ERROR_SUMMARY_CHARS] + "…"
    return "`" + first.replace("`", "'") + "`"


def primary_baseline(scenario: dict[str, Any]) -> dict[str, Any] | None:
    """The series every ratio in the table is taken against: the first ratio target's baseline."""
    for target in scenario["targets"]:
        if target["kind"] == "ratio":
            name = target["baseline"]
            return next(s for s in scenario["series"] if s["name"] == name)
    return next((s for s in scenario["series"] if s["role"] == "baseline"), None)


def samples_table(scenario: dict[str, Any]) -> list[str]:
    """min/median/max per series; ratios against the scenario's baseline of the same unit."""
    primary = primary_baseline(scenario)
    baselines = {s["unit"]: s for s in reversed(scenario["series"]) if s["role"] == "baseline"}
    if primary is not None:
        baselines[primary["unit"]] = primary
    lines = [
        "| series | role | n | min | median | max | ratio to baseline (medians) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    by_name = {s["name"]: s for s in scenario["series"]}
    # A series that a ratio target compares is shown against that target's baseline (the
    # no-op pass against the list call, not against compose's converge time).
    compared = {
        target["series"]: by_name[target["baseline"]]
        for target in scenario["targets"]
        if target["kind"] == "ratio" and target["baseline"] in by_name
    }
    for target_baseline in list(compared.values()):
        compared.setdefault(target_baseline["name"], target_baseline)
    for series in scenario["series"]:
        samples = [float(v) for v in series["samples"]]
        unit = series["unit"]
        baseline = compared.get(series["name"], baselines.get(unit))
        ratio = "–"
        if baseline is not None and series["role"] != "observed":
            theirs = statistic([float(v) for v in baseline["samples"]], "median")
            if samples and theirs and not math.isnan(theirs):  # a failed side has none
                ratio = f"{statistic(samples, 'median') / theirs:.2f}×"
        lines.append(
            f"| {series['name']} | {series['role']} | {len(samples)} | "
            f"{fmt(statistic(samples, 'min'), unit)} | {fmt(statistic(samples, 'median'), unit)} | "
            f"{fmt(statistic(samples, 'max'), unit)} | {ratio} |"
        )
    return lines


def targets_table(scenario: dict[str, Any]) -> list[str]:
    lines = ["| target | measured | limit | verdict |", "|---|---:|---:|---|"]
    for verdict, target in zip(verdicts(scenario), scenario["targets"], strict=True):
        if not verdict.judged:
            measured, limit = (
                "–",
                f"{verdict.op} {verdict.limit:g}" + ("×" if verdict.kind == "ratio" else ""),
            )
        elif verdict.kind == "ratio":
            measured, limit = f"{verdict.measured:.2f}×", f"{verdict.op} {verdict.limit:g}×"
        else:
            unit = next(s["unit"] for s in scenario["series"] if s["name"] == target["series"])
            measured = fmt(verdict.measured, unit)
            limit = f"{verdict.op} {fmt(verdict.limit, unit)}"
        mark = "met" if verdict.met else f"**{verdict.label.upper()}**"
        lines.append(f"| {verdict.description} | {measured} | {limit} | {mark} |")
    return lines


@dataclass(frozen=True)
class Panel:
    """One chart panel: the series of one unit, drawn on a log axis when their values span
    orders of magnitude (a 1000-app converge beside a 4 ms request would flatten the request)."""

    unit: str
    series: list[dict[str, Any]]
    log: bool


LOG_SPAN = 50.0
"""Largest/smallest positive value beyond which a panel's axis is logarithmic."""


def chart_panels(scenario: dict[str, Any]) -> list[Panel]:
    """The panels worth drawing: one per unit, without observed series that hold a single
    value (a count such as "runs needed: 1" reads better in the table than as a dot)."""
    drawn = [
        s
        for s in scenario["series"]
        if s["samples"] and not (s["role"] == "observed" and len(set(s["samples"])) == 1)
    ]
    panels = []
    for unit in dict.fromkeys(s["unit"] for s in drawn):
        chosen = [s for s in drawn if s["unit"] == unit]
        positive = [float(v) for s in chosen for v in s["samples"] if float(v) > 0]
        log = bool(positive) and max(positive) / min(positive) > LOG_SPAN
        panels.append(Panel(unit=unit, series=chosen, log=log))
    return panels


def axis_label(value: float, unit: str) -> str:
    """A tick of a panel whose values are in *unit* (seconds are drawn in milliseconds)."""
    if unit != "s":
        return f"{value:g}"
    return f"{value:g} ms" if value < 1000 else f"{value / 1000:g} s"


def chart(scenario: dict[str, Any], path: Path) -> None:
    """One strip-and-box chart per unit: every sample drawn, so spread and outliers show."""
    panels = chart_panels(scenario)
    if not panels:
        return
    rows = sum(len(panel.series) for panel in panels)
    figure, axes = plt.subplots(
        len(panels),
        1,
        figsize=(8, 1.0 * len(panels) + 0.5 * rows + 0.4),
        squeeze=False,
        height_ratios=[len(panel.series) + 1 for panel in panels],
    )
    for axis, panel in zip(axes[:, 0], panels, strict=True):
        scale = 1000.0 if panel.unit == "s" else 1.0
        data = [[float(v) * scale for v in s["samples"]] for s in panel.series]
        axis.boxplot(data, orientation="horizontal", widths=0.5, showfliers=False)
        for row, values in enumerate(data, start=1):
            axis.scatter(values, [row] * len(values), s=10, alpha=0.6)
        axis.set_yticks(range(1, len(panel.series) + 1), [s["name"] for s in panel.series])
        axis.tick_params(axis="y", labelsize=8)
        if panel.log:
            axis.set_xscale("log")
        axis.xaxis.set_major_formatter(
            FuncFormatter(lambda value, _, unit=panel.unit: axis_label(value, unit))
        )
        label = "time" if panel.unit == "s" else panel.unit
        axis.set_xlabel(f"{label}, log scale" if panel.log else label)
        axis.grid(axis="x", alpha=0.3)
    axes[0, 0].set_title(scenario["title"], fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def render_markdown(run: dict[str, Any], *, json_name: str, charts_dir: str) -> str:
    machine = run["machine"]
    all_verdicts = [(s, v) for s in run["scenarios"] for v in verdicts(s)]
    missed = [v for _, v in all_verdicts if not v.met]
    unjudged = [v for v in missed if not v.judged]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` from "
        f"[`bench/results/{json_name}`](../bench/results/{json_name}) (every sample is there); "
        "do not edit by hand, re-run `make bench` or `python bench/report.py RUN.json`.",
        "",
        f"Run {run['started']} → {run['finished']}"
        + (
            " — **QUICK smoke run**: fewer rounds, "
            "smaller scales; its figures are not the targets' scales."
            if run["quick"]
            else ""
        )
        + ".",
        "",
        "The targets are set at 1,000 apps and 1,000 manifests; each scenario's parameters say "
        "the scale it ran at (`GITBERTH_BENCH_APPS` lowers the app count where the engine's "
        "address pool or the time at hand is smaller), and a target met at a smaller scale "
        "is not proof at the full one.",
        "",
        "## Machine",
        "",
        f"- host `{machine['host']}`: {machine['cores']} cores, {machine['ram_mib']} MiB RAM, "
        f"Linux {machine['kernel']}",
        f"- Docker engine {machine['docker_version']}, "
        f"docker-compose {machine['compose_version']}, Python {machine['python_version']}",
        f"- load average (1, 5, 15 min) at the start: {machine['load_average_start']}; each "
        "scenario records its own below. This machine is shared: other sessions run test suites "
        "at the same time, so absolute times are noisy. Every baseline runs in the same run, "
        "interleaved where the scenario allows, so the *ratios* are what to read.",
        "",
        "## Targets",
        "",
        f"{len(all_verdicts) - len(missed)} of {len(all_verdicts)} targets met"
        + (
            f"; {len(unjudged)} could not be judged (a side they compare has no samples)."
            if unjudged
            else "."
        ),
        "",
        "| scenario | target | measured | limit | verdict |",
        "|---|---|---:|---:|---|",
    ]
    for scenario in run["scenarios"]:
        for row in targets_table(scenario)[2:]:
            lines.append(f"| {scenario['title']} " + row)
    for scenario in run["scenarios"]:
        lines += [
            "",
            f"## {scenario['title']}",
            "",
        ]
        if scenario.get("note"):
            lines += [scenario["note"], ""]
        parameters = ", ".join(f"{k}={v}" for k, v in scenario["parameters"].items())
        lines += [
            f"Parameters: {parameters or 'none'}; load average during it: "
            f"{scenario['load_average']}; took {scenario['seconds']:.0f} s.",
            "",
        ]
        if scenario.get("error"):
            failed = (
                "Part of this scenario failed" if scenario["targets"] else "This scenario failed"
            )
            lines += [
                f"**{failed}:** {error_summary(scenario['error'])}",
                "",
                "```",
                scenario["error"].strip(),
                "```",
                "",
            ]
        lines += samples_table(scenario)
        lines += [""] + targets_table(scenario)
        lines += ["", f"![{scenario['title']}]({charts_dir}/{scenario['id']}.png)"]
        if scenario.get("profile"):
            lines += [
                "",
                "Where the time goes, from extra untimed rounds (py-spy's frames of "
                "gitberth's side, or each side's engine requests on the critical path):",
                "",
                "```",
                scenario["profile"].rstrip(),
                "```",
            ]
    return "\n".join(lines) + "\n"


def readme_block(run: dict[str, Any]) -> str:
    """The medians the README quotes: one line per target, with its verdict."""
    lines = [
        README_START,
        f"Latest run ({run['started'][:10]}, {run['machine']['cores']} cores"
        + (", QUICK smoke run" if run["quick"] else "")
        + "):",
        "",
        "| scenario | target | measured (medians unless named) | verdict |",
        "|---|---|---:|---|",
    ]
    for scenario in run["scenarios"]:
        if scenario.get("error"):  # say so, not nothing (a whole failure leaves no targets)
            summary = error_summary(scenario["error"])
            lines.append(f"| {scenario['title']} | – | failed: {summary} | FAILED |")
        for verdict, target in zip(verdicts(scenario), scenario["targets"], strict=True):
            if not verdict.judged:
                measured = "– (a side it compares has no samples)"
            elif verdict.kind == "ratio":
                theirs = statistic(
                    series_samples(scenario, target["baseline"]), target["statistic"]
                )
                unit = next(s["unit"] for s in scenario["series"] if s["name"] == target["series"])
                measured = (
                    f"{verdict.measured:.2f}× ({fmt(theirs * verdict.measured, unit)} vs "
                    f"{fmt(theirs, unit)})"
                )
            else:
                unit = next(s["unit"] for s in scenario["series"] if s["name"] == target["series"])
                measured = fmt(verdict.measured, unit)
            lines.append(
                f"| {scenario['title']} | {verdict.description} | {measured} | {verdict.label} |"
            )
    lines += [
        "",
        "Full report, charts and profiles: [docs/benchmarks.md](docs/benchmarks.md).",
        README_END,
    ]
    return "\n".join(lines)


def update_readme(readme: Path, run: dict[str, Any]) -> None:
    text = readme.read_text()
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: no {README_START} … {README_END} block to fill")
    readme.write_text(pattern.sub(lambda _: readme_block(run), text))


def write_report(*, run_path: Path, docs_dir: Path, readme: Path | None) -> Path:
    run = load_run(run_path)
    charts = docs_dir / "benchmarks"
    charts.mkdir(parents=True, exist_ok=True)
    for scenario in run["scenarios"]:
        chart(scenario, charts / f"{scenario['id']}.png")
    markdown = docs_dir / "benchmarks.md"
    markdown.write_text(render_markdown(run, json_name=run_path.name, charts_dir="benchmarks"))
    if readme is not None:
        update_readme(readme, run)
    return markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("run", type=Path, help="a bench/results/*.json file")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    path = write_report(
        run_path=args.run, docs_dir=args.docs, readme=None if args.no_readme else args.readme
    )
    print(f"report: {path}")


if __name__ == "__main__":
    main()
