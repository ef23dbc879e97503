"""The plan report's three formats: JSON that follows its schema, text that colours only a
terminal, and markdown that a pull-request comment can hold safely."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
from rich.console import Console

from gitberth.core.manifests import load_manifests
from gitberth.core.review import review
from gitberth.core.review_running import RunningApp, RunningContainer, compare_running
from gitberth.core.review_secrets import ListedSecret, check_secrets
from gitberth.render.markdown import COMMENT_BUDGET, MARKER, code, escape, render_markdown
from gitberth.render.report import (
    PlanReport,
    RevisionOut,
    RunningOut,
    build_report,
    live_out,
    plan_schema,
    render_json,
    running_out,
)
from gitberth.render.text import render_text

ROOT = Path(__file__).resolve().parents[2]
BASE = RevisionOut(ref="main", sha="a" * 40)
HEAD = RevisionOut(ref="feature", sha="b" * 40)

WEB = "name: web\nimage: acme/web:1.0\nport: 8080\nenv:\n  LOG_LEVEL: info\n"
SHOP = """\
name: shop
envFrom: [shop-creds]
services:
  - name: api
    image: acme/api:1.0
    replicas: 2
"""
NASTY = "[bold red]boom[/] <script>x</script> @octocat `tick` | pipe\nsecond line"


def report_for(base: dict[str, str], head: dict[str, str], **live: object) -> PlanReport:
    def load(files: dict[str, str]):  # type: ignore[no-untyped-def]
        return load_manifests({f"apps/{n}.yaml": t for n, t in files.items()})

    result = review(load(base), load(head))
    return build_report(result, base=BASE, head=HEAD, **live)  # type: ignore[arg-type]


def changed_report() -> PlanReport:
    return report_for(
        {"web": WEB, "shop": SHOP, "gone": WEB.replace("web", "gone")},
        {
            "web": WEB.replace("info", "debug"),
            "shop": SHOP.replace("api:1.0", "api:1.1").replace("replicas: 2", "replicas: 3"),
            "new": WEB.replace("web", "new"),
            "broken": "name: broken\nimage: acme/x:1\nport: high\n",
        },
    )


def text_of(report: PlanReport, *, terminal: bool) -> str:
    buffer = io.StringIO()
    render_text(report, console=Console(file=buffer, force_terminal=terminal, width=100))
    return buffer.getvalue()


# --- JSON ------------------------------------------------------------------------------------


def test_the_committed_plan_schema_is_not_stale() -> None:
    committed = json.loads((ROOT / "schemas" / "plan.schema.json").read_text())
    assert committed == plan_schema(), "run: gitberth schema plan > schemas/plan.schema.json"


def test_json_reports_follow_the_schema() -> None:
    with_server = report_for(
        {"shop": SHOP},
        {"shop": SHOP.replace("api:1.0", "api:2.0")},
        live=live_out(
            check_secrets(load_manifests({"apps/shop.yaml": SHOP}), []),
            server="http://127.0.0.1:1",
            apps={"shop"},
            running=RunningOut(available=False, note="not compared"),
        ),
    )
    for report in (changed_report(), report_for({"web": WEB}, {"web": WEB}), with_server):
        document = json.loads(render_json(report))
        jsonschema.validate(document, plan_schema())
        assert PlanReport.model_validate(document) == report


def test_json_exit_code_and_counts_describe_the_change() -> None:
    document = json.loads(render_json(changed_report()))

    assert document["outcome"] == "blocked"  # `broken` is invalid at head
    assert document["exitCode"] == 1
    assert document["summary"] == {
        "appsAdded": 1,
        "appsChanged": 2,
        "appsRemoved": 1,
        "appsRepaired": 0,
        "appsInvalid": 1,
        "appsUnchanged": 0,
        "containersCreated": 2,
        "containersReplaced": 3,
        "containersRemoved": 1,
    }
    broken = next(app for app in document["apps"] if app["name"] == "broken")
    assert broken["problems"][0]["text"] == (
        "apps/broken.yaml:3:7: port: Input should be a valid integer"
    )
    assert report_for({"web": WEB}, {"web": WEB}).exitCode == 0
    assert report_for({"web": WEB}, {"web": WEB.replace("info", "x")}).exitCode == 2


def test_secret_errors_from_the_server_block_the_merge() -> None:
    head = load_manifests({"apps/shop.yaml": SHOP})
    live = live_out(
        check_secrets(head, [ListedSecret("other", None, ("K",))]),
        server="http://127.0.0.1:1",
        apps={"shop"},
        running=RunningOut(available=False, note="not compared"),
    )
    report = report_for({"shop": SHOP}, {"shop": SHOP}, live=live)

    assert report.exitCode == 1
    assert report.outcome == "blocked"


# --- text --------------------------------------------------------------------------------------


def test_text_has_colour_on_a_terminal_only() -> None:
    report = changed_report()

    assert "\x1b[" in text_of(report, terminal=True)
    plain = text_of(report, terminal=False)
    assert "\x1b[" not in plain
    assert "~ app shop changed (apps/shop.yaml)" in plain
    assert "      replace shop-api-1: image acme/api:1.0 -> acme/api:1.1" in plain
    assert "      create  shop-api-3: replicas 2 -> 3" in plain
    assert "      remove  gone-1: app removed" in plain
    assert "    apps/broken.yaml:3:7: port: Input should be a valid integer" in plain


def test_text_prints_manifest_values_literally_without_rich_markup() -> None:
    report = report_for({"web": WEB}, {"web": WEB.replace("info", json.dumps(NASTY))})

    plain = text_of(report, terminal=True)
    assert "[bold red]boom[/]" in plain


def test_text_long_lines_are_not_wrapped() -> None:
    long_value = "x" * 300
    report = report_for({"web": WEB}, {"web": WEB.replace("info", long_value)})

    assert f"env LOG_LEVEL changed: info -> {long_value}" in text_of(report, terminal=False)


# --- markdown ----------------------------------------------------------------------------------


def test_markdown_is_a_summary_table_then_one_collapsible_section_per_app() -> None:
    comment = render_markdown(changed_report())

    assert comment.startswith(MARKER + "\n")
    assert "| App | Change | Replaced | Created | Removed |" in comment
    assert "| `shop` | 🟡 changed | 2 | 1 | 0 |" in comment
    assert "| `broken` | ❌ invalid | 0 | 0 | 0 |" in comment
    assert comment.count("<details>") == 5
    assert comment.count("<details>") == comment.count("</details>")
    assert "- `image`: `acme/api:1.0` → `acme/api:1.1`" in comment
    assert "- **replace** `shop-api-1`, `shop-api-2`: image acme" in comment
    assert "❌ **Blocked:**" in comment


def test_markdown_neutralises_values_from_the_manifest() -> None:
    report = report_for({"web": WEB}, {"web": WEB.replace("info", json.dumps(NASTY))})

    comment = render_markdown(report)
    line = next(x for x in comment.splitlines() if x.startswith("- `env LOG_LEVEL`"))
    assert line == (
        "- `env LOG_LEVEL`: `info` → ``[bold red]boom[/] <script>x</script> @octocat `tick` "
        "| pipe\\nsecond line``"
    )
    reason = next(x for x in comment.splitlines() if x.startswith("- **replace**"))
    assert "<script>" not in reason
    assert not re.search(r"(?<!\\)[@<>|`\[]", reason.split(": ", 1)[1])
    assert "\\@octocat" in reason
    assert "\\<script\\>" in reason


def test_code_spans_survive_backticks_and_escape_removes_markup() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`x`") == "`` `x` ``"
    assert code("a\nb") == "`a\\nb`"
    assert escape("*a* <b> [l](u)") == r"\*a\* \<b\> \[l\]\(u\)"
    assert not re.search(r"(?<!\\)[<>*\[\]]", escape("<img src=x onerror=y> **"))


def test_markdown_stays_under_github_comment_limit() -> None:
    many = {f"app{i:04}": WEB.replace("web", f"app{i:04}") for i in range(150)}
    changed = {name: text.replace("info", "debug" * 100) for name, text in many.items()}

    comment = render_markdown(report_for(many, changed))

    assert len(comment) < 65_536
    assert len(comment) > COMMENT_BUDGET // 2
    assert "more app(s) not detailed here" in comment
    assert comment.count("<details>") == comment.count("</details>")


def test_an_unchanged_review_says_so() -> None:
    report = report_for({"web": WEB}, {"web": WEB})

    assert "✅ **Nothing changes.**" in render_markdown(report)
    assert "nothing changes" in text_of(report, terminal=False)
    assert "<details>" not in render_markdown(report)


def test_a_huge_review_keeps_even_the_table_under_the_limit() -> None:
    many = {
        f"app-with-a-long-name-{i:05}": WEB.replace("web", f"app-with-a-long-name-{i:05}")
        for i in range(1200)
    }

    comment = render_markdown(report_for({}, many))

    assert len(comment) < 65_536
    assert "more | | | | |" in comment


def test_every_format_names_the_consumers_a_changed_secret_restarts() -> None:
    head = load_manifests({"apps/shop.yaml": SHOP})
    secrets = [ListedSecret("shop-creds", "shop", ("DB_URL", "TOKEN"), "2024-05-01T12:00:01.000Z")]
    started = [
        RunningApp(
            "shop", "Synced", "Healthy", "b" * 40, None,
            tuple(
                RunningContainer(f"shop-api-{n}", "api", "running", "acme/api:1.0", "b" * 40,
                                 "2024-05-01T12:00:00Z")
                for n in (1, 2)
            ),
        )
    ]  # fmt: skip
    running = running_out(compare_running(head, started, secrets=secrets), note="compared")
    report = report_for(
        {"shop": SHOP},
        {"shop": SHOP},
        live=live_out(
            check_secrets(head, secrets), server="http://127.0.0.1:1", apps=set(), running=running
        ),
    )
    reason = "secret shop-creds (app shop) changed since it started (keys DB_URL, TOKEN)"

    document = json.loads(render_json(report))
    jsonschema.validate(document, plan_schema())
    (app,) = document["live"]["running"]["apps"]
    assert [(c["name"], c["reason"]) for c in app["containers"]] == [
        ("shop-api-1", reason),
        ("shop-api-2", reason),
    ]
    assert app["containers"][0]["changedSecrets"] == [
        {
            "secret": "shop-creds",
            "scope": "shop",
            "keys": ["DB_URL", "TOKEN"],
            "updatedAt": "2024-05-01T12:00:01.000Z",
        }
    ]
    assert app["containers"][0]["createdAt"] == "2024-05-01T12:00:00Z"
    assert f"    replace shop-api-1: {reason}" in text_of(report, terminal=False)
    assert f"**replace** `shop-api-2`: {escape(reason)}" in render_markdown(report)


def test_container_options_appear_in_every_format() -> None:
    base = WEB + "resources: {memory: 256Mi}\nrestart: no\n"
    head = (
        WEB
        + "resources: {memory: 512Mi}\nrestart: always\nlabels: {traefik.enable: 'true'}\n"
        + "healthcheck: {http: /healthz}\n"
    )
    report = report_for({"web": base}, {"web": head})

    document = json.loads(render_json(report))
    jsonschema.validate(document, plan_schema())
    fields = document["apps"][0]["services"][0]["fields"]
    assert [(f["field"], f["key"], f["before"], f["after"]) for f in fields] == [
        (
            "healthcheck",
            None,
            None,
            "http /healthz on port 8080 (every 2s, timeout 2s, 3 retries)",
        ),
        ("restart", None, "no", "always"),
        ("resources.memory", None, "256Mi", "512Mi"),
        ("labels", "traefik.enable", None, "true"),
    ]
    comment = render_markdown(report)
    assert "- `resources.memory`: `256Mi` → `512Mi`" in comment
    assert "- `restart`: `no` → `always`" in comment
    assert "- `labels traefik.enable` = `true`" in comment
    text = io.StringIO()
    render_text(report, console=Console(file=text, width=200))
    assert "resources.memory 256Mi -> 512Mi" in text.getvalue()
    assert "restart no -> always" in text.getvalue()
