"""The plan report as a pull-request comment: a summary table, then one collapsible section
per app, so a reviewer sees the size of a deploy at a glance and opens only what matters.

Manifest text (images, env values, reasons) is untrusted input to a comment: it is printed in
code spans or with every ASCII punctuation character escaped, so a value cannot inject
markdown, HTML or a mention. GitHub rejects comments over 65,536 characters; past
:data:`COMMENT_BUDGET` the remaining apps are listed in the table only.
"""

from __future__ import annotations

import html
import re
import string

from gitberth.core.review import Change
from gitberth.render.report import AppOut, FieldChangeOut, LiveOut, PlanReport, ServiceOut
from gitberth.render.text import running_headline, short_ref, summary_line

MARKER = "<!-- gitberth-plan -->"
"""First line of every comment, so a CI job can find and update its previous comment."""

COMMENT_BUDGET = 60_000

_ICON = {
    Change.ADDED: "🟢 added",
    Change.CHANGED: "🟡 changed",
    Change.REMOVED: "🔴 removed",
    Change.REPAIRED: "🔵 repaired",
    Change.INVALID: "❌ invalid",
}
_OUTCOME = {
    "unchanged": "✅ **Nothing changes.**",
    "changes": "🟡 **This pull request changes what runs.**",
    "blocked": "❌ **Blocked:** fix the problems below before merging.",
}
_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def render_markdown(report: PlanReport) -> str:
    """The whole comment, ending with a newline."""
    head = [
        MARKER,
        f"### gitberth plan: {code(short_ref(report.base.ref))} → "
        f"{code(short_ref(report.head.ref))}",
        "",
        f"{_OUTCOME[report.outcome]} {escape(summary_line(report))} "
        f"(base {code(report.base.sha[:12])}, head {code(report.head.sha[:12])})",
        "",
    ]
    if report.apps:
        head += ["| App | Change | Replaced | Created | Removed |", "|---|---|---:|---:|---:|"]
        table_size = 0
        for index, a in enumerate(report.apps):
            row = (
                f"| {code(a.name)} | {_ICON[a.change]} | {a.containersReplaced} "
                f"| {a.containersCreated} | {a.containersRemoved} |"
            )
            table_size += len(row) + 1
            if table_size > COMMENT_BUDGET // 2:
                head.append(f"| …{len(report.apps) - index} more | | | | |")
                break
            head.append(row)
        head.append("")
    tail = _live(report.live) if report.live is not None else []
    if report.baseProblems:
        tail += [
            f"<sub>{len(report.baseProblems)} manifest problem(s) already existed at base; "
            "those apps were held there.</sub>",
            "",
        ]
    used = sum(len(line) + 1 for line in head + tail)
    sections: list[str] = []
    for index, app in enumerate(report.apps):
        section = _app(app)
        size = sum(len(line) + 1 for line in section)
        if used + size > COMMENT_BUDGET:
            rest = len(report.apps) - index
            sections += [
                f"…and {rest} more app(s) not detailed here to stay under GitHub's comment "
                "size limit; run `gitberth plan --format json` for all of them.",
                "",
            ]
            break
        sections += section
        used += size
    return "\n".join(head + sections + tail).rstrip("\n") + "\n"


def _app(app: AppOut) -> list[str]:
    counts = [
        f"{n} {label}"
        for n, label in (
            (app.containersReplaced, "replaced"),
            (app.containersCreated, "created"),
            (app.containersRemoved, "removed"),
        )
        if n
    ]
    summary = f"<b>{html.escape(app.name)}</b> — {_ICON[app.change]}"
    if counts:
        summary += " — containers: " + ", ".join(counts)
    lines = [
        "<details>",
        f"<summary>{summary}</summary>",
        "",
    ]
    if app.file:
        lines += [f"File: {code(app.file)}", ""]
    if app.problems:
        lines += [f"- ❌ {code(p.text)}" for p in app.problems]
        lines += ["", "The reconciler holds this app's containers exactly as they are.", ""]
    for service in app.services:
        if len(app.services) > 1 or service.name != app.name:
            lines += [f"**Service {code(service.name)}** ({service.change.value})", ""]
        lines += [f"- {field_line(f)}" for f in service.fields]
        if service.fields:
            lines.append("")
        lines += _containers(service)
    lines += ["</details>", ""]
    return lines


def _containers(service: ServiceOut) -> list[str]:
    """Containers grouped by what happens to them and why, so ten replicas take one line."""
    if not service.containers:
        return [] if service.change is Change.REMOVED else ["No container is restarted.", ""]
    groups: dict[tuple[str, str], list[str]] = {}
    for container in service.containers:
        groups.setdefault((container.action.value, container.reason), []).append(container.name)
    lines = [
        f"- **{action}** {', '.join(code(n) for n in names)}: {escape(reason)}"
        for (action, reason), names in groups.items()
    ]
    return [*lines, ""]


WIRING_FIELDS = ("networks", "volumes", "pull", "imagePullSecret", "rollout")


def field_line(change: FieldChangeOut) -> str:
    """One field change with every value in a code span."""
    label = change.field if change.key is None else f"{change.field} {change.key}"
    label = code(label)
    if change.field in WIRING_FIELDS:  # networks, mounts, pulls: the words say it all
        return f"{code(change.field)}: {escape(change.text)}"
    if change.field in ("envFrom", "secretFiles") and change.key is not None:
        verb = "added" if change.after is not None else "removed"
        return f"{code(change.field)} {code(change.key)} {verb}"
    if change.before is None and change.after is not None:
        return f"{label} = {code(change.after)}"
    if change.after is None and change.before is not None:
        return f"{label} removed (was {code(change.before)})"
    line = f"{label}: {code(change.before or '')} → {code(change.after or '')}"
    if change.field == "replicas":
        line += " (only the surplus replicas are created or removed)"
    elif not change.replaces:
        line += " (restarts only if these secrets share a key name)"
    return line


def _live(live: LiveOut) -> list[str]:
    lines = [f"#### Secrets and running state ({code(live.server)})", ""]
    if not live.findings:
        lines.append("- ✅ every referenced secret exists and has keys")
    for finding in live.findings:
        icon = "❌" if finding.severity == "error" else "⚠️"
        where = finding.app + (f"/{finding.service}" if finding.service else "")
        lines.append(f"- {icon} {code(where)}: {escape(finding.message)}")
    if live.uses:
        lines += ["", "<details>", "<summary>Secrets the changed services consume</summary>", ""]
        lines += [
            f"- {code(u.app + '/' + u.service)} {u.mode} {code(u.secret)} "
            f"({'app ' + html.escape(u.scope) if u.scope else 'shared'}): "
            + (", ".join(code(k) for k in u.keys) or "no keys")
            for u in live.uses
        ]
        lines += ["", "</details>"]
    lines += ["", f"Running state: {escape(live.running.note)}", ""]
    for app in live.running.apps:
        lines.append(f"- {escape(running_headline(app))}")
        lines += [
            f"  - **{c.action.value}** {code(c.name)}: {escape(c.reason)}" for c in app.containers
        ]
    if live.running.apps:
        lines.append("")
    return lines


def code(value: str) -> str:
    """A code span that holds *value* literally, whatever backticks or newlines it has."""
    flat = value.replace("\r", "\\r").replace("\n", "\\n")
    longest = max((len(run) for run in re.findall("`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def escape(value: str) -> str:
    """Plain text with all markdown and HTML meaning removed (and no line breaks)."""
    return _PUNCTUATION.sub(r"\\\1", value.replace("\r", " ").replace("\n", " "))
