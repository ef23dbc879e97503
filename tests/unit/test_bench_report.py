"""The benchmark report, generated from a small recorded run (nothing here is timed).

The sample holds a secret-write scenario whose rate target is met (median 220/s against
160/s: 1.375×) and whose p99 target is missed (90 ms against 30 ms), and a plan review that
missed its 1 s limit (median 1.91 s).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import math
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from bench import compose_baseline, record, report

SAMPLE = Path(__file__).parent / "data" / "bench-run.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
README_WITH_BLOCK = (
    f"# x\n\n## Performance\n\nbefore\n\n{report.README_START}\nold figures\n"
    f"{report.README_END}\n\nafter\n"
)


def sample() -> dict[str, Any]:
    run: dict[str, Any] = json.loads(SAMPLE.read_text())
    return run


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    """The report of the sample run, written once for the tests that only read it (drawing
    its charts is most of this file's time)."""
    tmp_path = tmp_path_factory.mktemp("report")
    readme = tmp_path / "README.md"
    readme.write_text(README_WITH_BLOCK)
    markdown = report.write_report(run_path=SAMPLE, docs_dir=tmp_path / "docs", readme=readme)
    return markdown.read_text(), tmp_path / "docs", readme


class TestSchema:
    def test_the_recorded_sample_is_a_valid_run(self) -> None:
        record.validate(sample())

    def test_a_run_without_machine_facts_is_refused_naming_the_field(self) -> None:
        run = sample()
        del run["machine"]["kernel"]
        with pytest.raises(jsonschema.ValidationError, match="'kernel' is a required property"):
            record.validate(run)

    def test_a_ratio_target_without_its_baseline_is_refused(self) -> None:
        run = sample()
        del run["scenarios"][0]["targets"][0]["baseline"]
        with pytest.raises(jsonschema.ValidationError, match="'baseline' is a required"):
            record.validate(run)

    def test_an_unknown_unit_is_refused(self) -> None:
        run = copy.deepcopy(sample())
        run["scenarios"][1]["series"][0]["unit"] = "fortnights"
        with pytest.raises(jsonschema.ValidationError, match="fortnights"):
            record.validate(run)


class TestVerdicts:
    def test_p99_is_the_nearest_rank(self) -> None:
        assert record.statistic([float(v) for v in range(1, 101)], "p99") == 99
        assert record.statistic([0.012, 0.015, 0.018, 0.090], "p99") == 0.090

    def test_each_target_is_recomputed_from_the_samples(self) -> None:
        secret, plan = sample()["scenarios"]
        rate, p99 = record.verdicts(secret)
        assert rate.measured == pytest.approx(220 / 160) and rate.met
        assert p99.measured == pytest.approx(3.0) and not p99.met
        (limit,) = record.verdicts(plan)
        assert limit.measured == pytest.approx(1.91343602500001) and not limit.met


class TestMarkdown:
    def test_each_series_has_a_min_median_max_row_with_its_ratio(
        self, generated: tuple[str, Path, Path]
    ) -> None:
        markdown, _, _ = generated
        assert (
            "| series | role | n | min | median | max | ratio to baseline (medians) |" in markdown
        )
        assert "| gitberth writes/s | ours | 3 | 180/s | 220/s | 260/s | 1.38× |" in markdown
        assert "| swarm writes/s | baseline | 3 | 150/s | 160/s | 170/s | 1.00× |" in markdown
        assert "| gitberth write latency | ours | 4 | 12 ms | 16 ms | 90 ms | 0.72× |" in markdown
        assert "| gitberth plan (process) | ours | 3 | 1893 ms | 1913 ms | 2069 ms | 289.26× |" in (
            markdown
        )

    def test_a_series_is_compared_with_the_baseline_of_its_own_target(self) -> None:
        """Two ratio targets in one unit (converge vs compose, no-op pass vs one list call):
        each series' ratio is taken against its target's baseline, not the first one's."""
        scenario = {
            "series": [
                {"name": "converge", "role": "ours", "unit": "s", "samples": [60.0]},
                {"name": "compose", "role": "baseline", "unit": "s", "samples": [40.0]},
                {"name": "no-op pass", "role": "ours", "unit": "s", "samples": [0.039]},
                {"name": "list call", "role": "baseline", "unit": "s", "samples": [0.030]},
            ],
            "targets": [
                {"kind": "ratio", "series": "converge", "baseline": "compose"},
                {"kind": "ratio", "series": "no-op pass", "baseline": "list call"},
            ],
        }
        rows = {line.split(" | ")[0][2:]: line for line in report.samples_table(scenario)[2:]}
        assert rows["converge"].endswith("| 1.50× |")
        assert rows["no-op pass"].endswith("| 1.30× |")
        assert rows["list call"].endswith("| 1.00× |")

    def test_targets_say_met_or_missed(self, generated: tuple[str, Path, Path]) -> None:
        markdown, _, _ = generated
        assert "| write rate ≥ 1.2× Swarm's | 1.38× | >= 1.2× | met |" in markdown
        assert "| p99 latency ≤ Swarm's | 3.00× | <= 1× | **MISSED** |" in markdown
        assert "| ≤ 1 s including process start | 1913 ms | <= 1000 ms | **MISSED** |" in markdown
        assert "1 of 3 targets met." in markdown

    def test_machine_facts_load_and_profile_are_shown(
        self, generated: tuple[str, Path, Path]
    ) -> None:
        markdown, _, _ = generated
        assert "2 cores, 7936 MiB RAM, Linux 6.1.0-26-amd64" in markdown
        assert "Docker engine 20.10.24+dfsg1, docker-compose 1.29.2, Python 3.11.2" in markdown
        assert "load average during it: [3.1, 3.9, 5.2]" in markdown
        assert "61.0%  commit (gitberth/secrets/store.py:88)" in markdown
        assert "QUICK smoke run" in markdown

    def test_every_scenario_has_a_png_chart_it_links(
        self, generated: tuple[str, Path, Path]
    ) -> None:
        markdown, docs, _ = generated
        for scenario in sample()["scenarios"]:
            chart = docs / "benchmarks" / f"{scenario['id']}.png"
            assert chart.read_bytes().startswith(PNG_MAGIC)
            assert f"(benchmarks/{scenario['id']}.png)" in markdown


class TestCharts:
    @staticmethod
    def scenario(*series: tuple[str, str, str, list[float]]) -> dict[str, Any]:
        return {
            "title": "t",
            "series": [
                {"name": name, "role": role, "unit": unit, "samples": samples}
                for name, role, unit, samples in series
            ],
        }

    def test_a_panel_spanning_orders_of_magnitude_is_drawn_on_a_log_axis(self) -> None:
        panels = report.chart_panels(
            self.scenario(
                ("converge", "ours", "s", [640.0]),
                ("GET /apps", "observed", "s", [0.002, 0.004, 0.15]),
                ("RSS", "observed", "MiB", [90.0, 104.0]),
            )
        )
        assert [(p.unit, p.log) for p in panels] == [("s", True), ("MiB", False)]
        assert [s["name"] for s in panels[0].series] == ["converge", "GET /apps"]

    def test_an_observed_count_of_one_value_stays_in_the_table_not_the_chart(self) -> None:
        panels = report.chart_panels(
            self.scenario(
                ("runs needed", "observed", "runs", [1.0]),
                ("calls", "observed", "calls", [1.0, 1.0, 1.0]),
                ("ours", "ours", "s", [0.6, 0.7]),
            )
        )
        assert [p.unit for p in panels] == ["s"]
        assert not panels[0].log

    def test_ticks_of_seconds_read_in_ms_then_s(self) -> None:
        assert report.axis_label(7.5, "s") == "7.5 ms"
        assert report.axis_label(100_000.0, "s") == "100 s"
        assert report.axis_label(97.5, "MiB") == "97.5"


class TestReadme:
    def test_only_the_marked_block_is_replaced_with_the_medians(
        self, generated: tuple[str, Path, Path]
    ) -> None:
        _, _, readme = generated
        text = readme.read_text()
        assert "old figures" not in text
        assert text.startswith("# x\n\n## Performance\n\nbefore\n\n")
        assert text.endswith(f"{report.README_END}\n\nafter\n")
        assert "| p99 latency ≤ Swarm's | 3.00× (90 ms vs 30 ms) | MISSED |" in text
        assert "[docs/benchmarks.md](docs/benchmarks.md)" in text

    def test_a_failed_scenario_is_named_in_the_readme_block(self) -> None:
        run = sample()
        run["scenarios"].append(
            {
                **copy.deepcopy(run["scenarios"][1]),
                "id": "scale",
                "title": "1000 apps",
                "error": "RuntimeError: slow",
            }
        )
        block = report.readme_block(run)
        assert "| 1000 apps | – | failed: `RuntimeError: slow` | FAILED |" in block

    def test_a_many_line_error_keeps_the_readme_table_one_row(self) -> None:
        # docker-compose's stderr (many lines) broke the table in the README.
        run = sample()
        error = "RuntimeError: docker-compose up -d: timed out\n\nERROR: for svc1\nERROR: svc2"
        run["scenarios"].append({**copy.deepcopy(run["scenarios"][1]), "error": error})
        rows = [line for line in report.readme_block(run).splitlines() if "FAILED" in line]
        assert rows == [
            f"| {run['scenarios'][1]['title']} | – | failed: "
            "`RuntimeError: docker-compose up -d: … ERROR: svc2` | FAILED |"
        ]
        assert "ERROR: for svc1" in report.render_markdown(run, json_name="r.json", charts_dir="c")

    def test_a_baseline_without_samples_gives_no_ratio_not_nan(self) -> None:
        run = sample()
        scenario = copy.deepcopy(run["scenarios"][0])
        for series in scenario["series"]:
            if series["role"] == "baseline":
                series["samples"] = []
        assert all("nan" not in line for line in report.samples_table(scenario))

    def test_a_target_whose_baseline_failed_is_not_judged_and_says_so(self) -> None:
        # The 1,000-app scenario's compose side failed: its other targets still count, and
        # the comparison reads "not judged", not a silent miss (nor a met ratio of nan).
        run = sample()
        scenario = run["scenarios"][0]
        scenario["error"] = "the docker-compose baseline failed 3 runs in a row: Pool is closed"
        for series in scenario["series"]:
            if series["role"] == "baseline":
                series["samples"] = []
        [first, *_] = record.verdicts(scenario)
        assert (first.judged, first.met, first.label) == (False, False, "not judged")

        markdown = report.render_markdown(run, json_name="r.json", charts_dir="c")
        assert "**Part of this scenario failed:**" in markdown
        assert f"| {first.description} | – |" in markdown and "**NOT JUDGED**" in markdown
        assert "could not be judged" in markdown
        block = report.readme_block(run)
        assert "| failed: `the docker-compose baseline failed" in block
        assert f"| {first.description} | – (a side it compares has no samples) | not judged |" in (
            block
        )

    def test_a_readme_without_the_block_is_an_error_not_a_silent_skip(self, tmp_path: Path) -> None:
        readme = tmp_path / "README.md"
        readme.write_text("# no block here\n")
        with pytest.raises(SystemExit, match="bench:medians:start"):
            report.update_readme(readme, sample())

    def test_the_projects_readme_has_the_block(self) -> None:
        text = (Path(__file__).parents[2] / "README.md").read_text()
        assert report.README_START in text and report.README_END in text


class TestComposeBaseline:
    def test_one_line_differs_between_rounds_and_only_in_the_first_service(self) -> None:
        before = compose_baseline.compose_file(services=3, changed_value="1").splitlines()
        after = compose_baseline.compose_file(services=3, changed_value="2").splitlines()
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert changed == [("      ROUND: '1'", "      ROUND: '2'")]
        assert before.index("      ROUND: '1'") < before.index("  svc0001:")

    def test_the_parallel_limit_is_above_the_service_count(self, tmp_path: Path) -> None:
        # docker-compose 1.x deadlocks on `up` with more services than its parallel limit.
        (tmp_path / "docker-compose.yml").write_text(
            compose_baseline.compose_file(services=1000, changed_value="x")
        )
        assert compose_baseline.parallel_limit(tmp_path) > 1000

    def test_a_large_project_may_wait_minutes_for_the_engine(self, tmp_path: Path) -> None:
        # 500 services at once: the engine answered after compose's default 60 s.
        (tmp_path / "docker-compose.yml").write_text(
            compose_baseline.compose_file(services=500, changed_value="x")
        )
        environment = compose_baseline.compose_environment(tmp_path)
        assert int(environment["COMPOSE_HTTP_TIMEOUT"]) >= 600
        assert int(environment["COMPOSE_PARALLEL_LIMIT"]) > 500

    def test_up_is_run_again_after_a_failed_run_and_both_runs_are_timed(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # docker-compose 1.29 broke its own connection pool at ~960 of 1,000 services; its
        # user runs `up -d` again. A stand-in docker-compose fails its first run only.
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        tool = bin_dir / "docker-compose"
        tool.write_text(
            "#!/bin/sh\n"
            f'echo "$*" >> {tmp_path}/calls\n'
            f"if [ ! -e {tmp_path}/failed ]; then touch {tmp_path}/failed; sleep 0.2;"
            " echo 'ERROR: Pool is closed.' >&2; exit 1; fi\n"
        )
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

        seconds, runs = compose_baseline.compose_up_until_up(
            tmp_path / "project", services=2, value="x"
        )

        assert runs == 2 and seconds >= 0.2  # the failed run's time counts
        assert (tmp_path / "calls").read_text().count("up -d") == 2

    def test_up_gives_up_after_its_last_run_with_the_tools_error(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        tool = bin_dir / "docker-compose"
        tool.write_text("#!/bin/sh\necho 'ERROR: Pool is closed.' >&2\nexit 1\n")
        tool.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
        with pytest.raises(RuntimeError, match="Pool is closed"):
            compose_baseline.compose_up_until_up(tmp_path / "project", services=2, value="x")

    def test_a_project_too_large_for_a_24_gets_a_subnet_of_its_own(self) -> None:
        # A /24 default network holds 253 containers; 300 services failed with "no available
        # IPv4 addresses on this network's address pools".
        import yaml

        large = yaml.safe_load(compose_baseline.compose_file(services=300, changed_value="x"))
        small = yaml.safe_load(compose_baseline.compose_file(services=100, changed_value="x"))
        [config] = large["networks"]["default"]["ipam"]["config"]
        assert ipaddress.ip_network(config["subnet"]).num_addresses >= 1024
        assert "networks" not in small


def test_a_scenario_that_fails_is_recorded_with_its_parameters_and_samples() -> None:
    """A failed run says what ran (the scale at which it failed, and what it had measured)
    instead of "Parameters: none"."""
    from bench import run as bench_run

    def failing() -> None:
        scenario = bench_run.Scenario("scale", "1000 apps", {"apps": 1000, "converge_rounds": 1})
        rss = scenario.add("gitberth serve RSS", role="observed", unit="MiB")
        scenario.add("gitberth serve converge", role="ours", unit="s")
        rss.extend([90.0, 120.0])
        scenario.target("RSS ≤ 150 MiB", series="gitberth serve RSS", op="<=", limit=150)
        raise RuntimeError("gitberth serve did not converge: 930 of 1000 apps Synced")

    with pytest.raises(RuntimeError) as raised:
        failing()
    failed = bench_run.failed_scenario("scale", error=str(raised.value)).as_json()

    assert failed["parameters"] == {"apps": 1000, "converge_rounds": 1}
    assert failed["error"] == "gitberth serve did not converge: 930 of 1000 apps Synced"
    assert {s["name"]: s["samples"] for s in failed["series"]}["gitberth serve RSS"] == [90, 120]
    assert failed["targets"] == []  # not judged on partial samples
    run = {**sample(), "scenarios": [{**failed, "seconds": 1.0}]}
    record.validate(run)


def test_a_smoke_run_never_replaces_the_samples_of_that_days_full_run(tmp_path: Path) -> None:
    from bench.run import results_path

    full = {"started": "2026-12-02T08:00:00+00:00", "machine": {"host": "vm"}, "quick": False}
    smoke = {**full, "quick": True}

    assert results_path(full, directory=tmp_path) == tmp_path / "2026-12-02-vm.json"
    assert results_path(smoke, directory=tmp_path) == tmp_path / "2026-12-02-vm-quick.json"


def test_a_scenario_run_apart_joins_the_full_runs_samples_in_make_bench_order() -> None:
    from bench.run import merge_runs

    def scenario(name: str, seconds: float) -> dict[str, Any]:
        return {"id": name, "seconds": seconds}

    full = {
        **sample(),
        "started": "2026-12-02T15:00:00+00:00",
        "finished": "2026-12-02T15:30:00+00:00",
        "scenarios": [
            scenario("secret-writes", 1),
            scenario("scale", 2),
            scenario("plan-review", 3),
        ],
    }
    apart = {
        **sample(),
        "started": "2026-12-02T14:00:00+00:00",
        "finished": "2026-12-02T14:55:00+00:00",
        "scenarios": [scenario("scale", 3300)],
    }

    merged = merge_runs(full, apart)

    assert [(s["id"], s["seconds"]) for s in merged["scenarios"]] == [
        ("secret-writes", 1),
        ("scale", 3300),
        ("plan-review", 3),
    ]
    assert (merged["started"], merged["finished"]) == (apart["started"], full["finished"])
    with pytest.raises(SystemExit, match="quick"):
        merge_runs(full, {**apart, "quick": not apart["quick"]})


def test_a_failed_commands_error_is_summed_up_by_the_tools_own_error_line() -> None:
    # a failed command's output is kept from its end: its first line is any progress line
    error = (
        "RuntimeError: docker-compose up -d: ing gbbenchscale_svc0161_1 ... done\n"
        "Creating gbbenchscale_svc0243_1 ... done\n\n"
        "ERROR: for svc0383  Pool is closed.\n\nERROR: for svc0510  Pool is closed.\n"
        "Couldn't connect to Docker daemon at http+docker://localhost - is it running?\n"
    )
    assert report.error_summary(error) == (
        "`RuntimeError: docker-compose up -d: … ERROR: for svc0510  Pool is closed.`"
    )
    assert report.error_summary("RuntimeError: did not converge: 930 of 1000") == (
        "`RuntimeError: did not converge: 930 of 1000`"
    )


def test_a_rounds_breakdown_shows_each_kind_of_engine_request_and_the_time_outside_them() -> None:
    from bench.profiling import request_kind, round_breakdown

    assert request_kind("POST", "/v1.41/containers/ab12/start") == "POST /containers/{id}/start"
    assert request_kind("GET", "/v1.41/containers/json?all=1") == "GET /containers/json"
    assert request_kind("POST", "/v1.41/containers/create?name=x") == "POST /containers/create"
    rounds = [
        (0.5, [("POST /containers/create", 0.05), ("GET /containers/{id}/json", 0.01),
               ("GET /containers/{id}/json", 0.01), ("POST /containers/{id}/start", 0.2)]),
        (0.7, [("POST /containers/create", 0.07), ("POST /containers/{id}/start", 0.3)]),
        (0.6, [("POST /containers/create", 0.06), ("POST /containers/{id}/start", 0.25)]),
    ]  # fmt: skip

    text = round_breakdown("gitberth", rounds)

    assert text.splitlines()[0] == "gitberth: 600 ms per round (median of 3)"
    assert "POST /containers/{id}/start" in text.splitlines()[1]  # the costliest first
    assert "250 ms" in text.splitlines()[1]
    inspects = next(line for line in text.splitlines() if "GET /containers/{id}/json" in line)
    assert "0×" in inspects  # the median round made none
    assert text.splitlines()[-2].endswith("310 ms")  # in engine requests, median round
    assert text.splitlines()[-1].endswith("290 ms")  # outside them


def test_a_secret_write_miss_is_explained_by_the_cpu_each_write_needs() -> None:
    from bench.secrets_write import cpu_verdict

    lines = cpu_verdict(
        {"gitberth": (0.0015, 0.0005, 600.0), "swarm": (0.001, 0.0005, 1500.0)}, cores=2
    )

    assert "one core gives it at most 667 writes/s" in lines[0]
    assert "could carry at most 1000/s" in lines[0]  # 2 cores / (1.5 ms + 0.5 ms)
    assert "is 1800/s: it needs 1.11 ms of CPU per write, client included" in lines[1]
    assert cpu_verdict({"gitberth": (math.nan, 0.0005, 600.0)}, cores=2) == []


def test_a_parallel_runs_requests_are_summed_by_kind_with_their_means() -> None:
    from bench.profiling import request_totals

    text = request_totals(
        "converge of 2 apps",
        wall=1.5,
        workers=4,
        requests=[
            ("POST /networks/create", 0.4),
            ("POST /containers/{id}/start", 0.5),
            ("POST /networks/create", 0.6),
            ("POST /containers/{id}/start", 0.7),
        ],
    )

    first, start, network = text.splitlines()
    assert first == "converge of 2 apps: 1.5 s wall, 4 engine requests from 4 workers at once"
    assert start.split() == [
        "POST",
        "/containers/{id}/start",
        "2×",
        "mean",
        "600",
        "ms",
        "total",
        "1.2",
        "s",
    ]
    assert network.split()[2:5] == ["2×", "mean", "500"]


def test_a_phase_split_says_which_side_is_slower_before_and_after_the_engine_has_the_change() -> (
    None
):
    from bench.profiling import phase_split

    text = phase_split(
        title="one change:",
        first="until the change reaches Swarm",
        then="then until the new task runs",
        sides={
            "gitberth": [(0.060, 0.600), (0.080, 0.640), (0.070, 0.590)],
            "stack deploy": [(0.150, 0.450)],
        },
    )
    lines = text.splitlines()
    assert lines[0] == "one change:"
    assert lines[1].split() == ["gitberth", "stack", "deploy"]
    assert lines[2].split()[-4:] == ["70", "ms", "150", "ms"]
    assert lines[3].split()[-4:] == ["600", "ms", "450", "ms"]
    assert "–" in phase_split(title="t", first="a", then="b", sides={"x": [], "y": [(1, 1)]})


def test_the_isolated_stack_gives_every_service_a_network_of_its_own() -> None:
    from bench.swarm_scenarios import stack_file
    from ruamel.yaml import YAML

    values = {"a": "1", "b": "2"}
    plain = YAML(typ="safe").load(stack_file(["a", "b"], values=values))
    isolated = YAML(typ="safe").load(stack_file(["a", "b"], values=values, network_each=True))
    assert "networks" not in plain and all("networks" not in s for s in plain["services"].values())
    assert {n: s["networks"] for n, s in isolated["services"].items()} == {"a": ["a"], "b": ["b"]}
    assert set(isolated["networks"]) == {"a", "b"}
    assert isolated["services"]["b"]["environment"] == {"ROUND": "2"}


def test_the_swarm_profile_says_how_gitberth_compares_with_an_isolated_stack() -> None:
    from bench.run import isolation_line
    from bench.swarm_scenarios import Sides

    line = isolation_line(Sides(ours=[45.0, 46.0, 44.0], theirs_isolated=[45.0, 44.0, 46.0]))
    assert "45000 ms per round (median); gitberth is 1.00× that" in line
