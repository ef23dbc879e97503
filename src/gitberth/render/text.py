"""The plan report for a terminal: one line per change, coloured only when it is a terminal.

Everything printed from a manifest goes through :class:`rich.text.Text`, never through Rich
markup, so a value like ``[bold]`` in an env variable is printed as written.
"""

from __future__ import annotations

import re

from rich.console import Console
from rich.text import Text

from gitberth.core.review import Change, ContainerAction
from gitberth.render.report import (
    AppOut,
    ContainerOut,
    LiveOut,
    PlanReport,
    RunningAppOut,
    RunningContainerOut,
)

_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_CHANGE_STYLE = {
    Change.ADDED: ("+", "green"),
    Change.CHANGED: ("~", "yellow"),
    Change.REMOVED: ("-", "red"),
    Change.REPAIRED: ("~", "cyan"),
    Change.INVALID: ("!", "bold red"),
}
_ACTION_STYLE = {
    ContainerAction.CREATE: "green",
    ContainerAction.REPLACE: "yellow",
    ContainerAction.REMOVE: "red",
}


def render_text(report: PlanReport, *, console: Console) -> None:
    """Print *report*; *console* decides about colour (Rich colours only a terminal)."""
    _line(
        console,
        Text.assemble(
            ("plan ", "bold"),
            f"{short_ref(report.base.ref)} ({report.base.sha[:12]}) -> "
            f"{short_ref(report.head.ref)} ({report.head.sha[:12]}): ",
            summary_line(report),
        ),
    )
    for app in report.apps:
        _print_app(app, console=console)
    if report.baseProblems:
        _line(
            console,
            Text(
                f"note: {len(report.baseProblems)} problem(s) already at base "
                "(those apps were held there)",
                style="dim",
            ),
        )
    if report.live is not None:
        _print_live(report.live, console=console)
    verdict = {
        "unchanged": ("nothing changes", "green"),
        "changes": ("changes to review", "yellow"),
        "blocked": ("blocked: fix the errors above before merging", "bold red"),
    }[report.outcome]
    _line(console, Text(verdict[0], style=verdict[1]))


def _line(console: Console, text: Text) -> None:
    """One change per line, never wrapped, so CI logs stay grep-able."""
    console.print(text, soft_wrap=True)


def short_ref(ref: str) -> str:
    """A full commit sha as its first 12 digits; branch and tag names as they are."""
    return ref[:12] if _FULL_SHA.fullmatch(ref) else ref


def summary_line(report: PlanReport) -> str:
    """``2 apps changed, 1 added; containers: 3 replaced, 1 created`` — or ``no changes``."""
    s = report.summary
    apps = [
        f"{n} {label}"
        for n, label in (
            (s.appsAdded, "added"),
            (s.appsChanged, "changed"),
            (s.appsRemoved, "removed"),
            (s.appsRepaired, "repaired"),
            (s.appsInvalid, "invalid"),
        )
        if n
    ]
    containers = [
        f"{n} {label}"
        for n, label in (
            (s.containersReplaced, "replaced"),
            (s.containersCreated, "created"),
            (s.containersRemoved, "removed"),
        )
        if n
    ]
    if not apps:
        return f"no changes ({s.appsUnchanged} app(s) unchanged)"
    line = "apps: " + ", ".join(apps)
    if containers:
        line += "; containers: " + ", ".join(containers)
    return line + f"; {s.appsUnchanged} app(s) unchanged"


def _print_app(app: AppOut, *, console: Console) -> None:
    sign, style = _CHANGE_STYLE[app.change]
    where = f" ({app.file})" if app.file else ""
    _line(console, Text.assemble((f"{sign} app {app.name} {app.change.value}", style), where))
    for problem in app.problems:
        _line(console, Text(f"    {problem.text}", style="red"))
    for service in app.services:
        if service.name != app.name or len(app.services) > 1:
            _line(console, Text(f"    service {service.name} {service.change.value}", style=style))
        for change in service.fields:
            _line(console, Text(f"      {change.text}"))
        for container in service.containers:
            _container_line(console, container, indent=6)


def _print_live(live: LiveOut, *, console: Console) -> None:
    _line(console, Text(f"secrets at {live.server}:", style="bold"))
    if not live.findings:
        _line(console, Text("  every referenced secret exists and has keys", style="green"))
    for finding in live.findings:
        where = finding.app + (f"/{finding.service}" if finding.service else "")
        style = "red" if finding.severity == "error" else "yellow"
        _line(
            console, Text.assemble(("  " + finding.severity, style), f" {where}: {finding.message}")
        )
    for use in live.uses:
        scope = f"app {use.scope}" if use.scope else "shared"
        _line(
            console,
            Text(
                f"  {use.app}/{use.service} {use.mode} {use.secret} ({scope}): "
                + (", ".join(use.keys) or "no keys"),
                style="dim",
            ),
        )
    _line(console, Text(f"running: {live.running.note}", style="dim"))
    for app in live.running.apps:
        _line(console, Text("  " + running_headline(app), style="bold"))
        for container in app.containers:
            _container_line(console, container, indent=4)


def running_headline(app: RunningAppOut) -> str:
    """``app shop: Degraded, Unhealthy, applied 1a2b3c4d5e6f; rollout_failed: ...``, with
    ``app shop (source team-b): ...`` when the server has several sources."""
    state = ", ".join(x for x in (app.sync, app.health) if x) or "not running"
    if app.appliedRevision:
        state += f", applied {short_ref(app.appliedRevision)}"
    named = f"app {app.name}" + (f" (source {app.source})" if app.source else "")
    return f"{named}: {state}" + (f"; {app.error}" if app.error else "")


def _container_line(
    console: Console, container: ContainerOut | RunningContainerOut, *, indent: int
) -> None:
    """``<action> <name>: <reason>``, the action coloured as everywhere in the text plan."""
    _line(
        console,
        Text.assemble(
            " " * indent,
            (f"{container.action.value:<7}", _ACTION_STYLE[container.action]),
            f" {container.name}: {container.reason}",
        ),
    )
