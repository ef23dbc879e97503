"""What of the container options defines a running container, how they are summarized without
values on its labels, and the plan's reasons when they change.

Apart from the normalized values because this is the comparison side: the fingerprint hashes
:func:`hash_document`, the planner and the review diff two :func:`summary` documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitberth.core.container_options import ContainerOptions
from gitberth.core.quantities import format_bytes, format_duration


def hash_document(options: ContainerOptions) -> dict[str, Any]:
    """What of *options* defines a running container, for :mod:`gitberth.core.fingerprint`."""
    check = options.healthcheck
    return {
        "healthcheck": None
        if check is None
        else {
            "test": check.test,
            "interval": check.interval_ns,
            "timeout": check.timeout_ns,
            "retries": check.retries,
            "startPeriod": check.start_period_ns,
        },
        "restart": options.restart.value,
        "memory": options.memory,
        "cpus": options.cpus,
        "pids": options.pids,
        "labels": dict(options.labels),
        "user": options.user,
        "workingDir": options.working_dir,
        "entrypoint": list(options.entrypoint) if options.entrypoint is not None else None,
        "stopSignal": options.stop_signal,
        "stopGracePeriod": options.stop_grace_ns,
        # the mode enters only when written, so the hash of every existing spec stays
        "ports": [
            [p.container, p.host, p.address, *([p.mode] if p.mode else [])] for p in options.ports
        ],
    }


SUMMARY_FIELDS = (
    "healthcheck",
    "restart",
    "resources.memory",
    "resources.cpus",
    "resources.pids",
    "user",
    "workingDir",
    "entrypoint",
    "stopSignal",
    "stopGracePeriod",
    "ports",
)
"""Summary keys of :func:`summary` (besides ``labels``), in manifest order."""


def summary(options: ContainerOptions) -> dict[str, Any]:
    """Manifest text of every option (all of it is in Git already; no secret can be here)."""
    return {
        "healthcheck": options.healthcheck.describe() if options.healthcheck else None,
        "restart": options.restart.value,
        "resources.memory": format_bytes(options.memory) if options.memory is not None else None,
        "resources.cpus": f"{options.cpus:g}" if options.cpus is not None else None,
        "resources.pids": str(options.pids),
        "labels": dict(options.labels),
        "user": options.user,
        "workingDir": options.working_dir,
        "entrypoint": " ".join(options.entrypoint) if options.entrypoint is not None else None,
        "stopSignal": options.stop_signal,
        "stopGracePeriod": format_duration(options.stop_grace_ns)
        if options.stop_grace_ns is not None
        else None,
        "ports": ", ".join(p.describe() for p in options.ports) if options.ports else None,
    }


@dataclass(frozen=True)
class OptionChange:
    """One option that differs: ``key`` names the label for ``labels``."""

    field: str
    key: str | None
    before: str | None
    after: str | None
    text: str


def option_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[OptionChange]:
    """Differences between the option parts of two spec summaries, in words.

    Summaries made before these options existed lack the keys; they read as the defaults, so
    an upgrade does not claim that every field changed.
    """
    defaults = summary(ContainerOptions())
    changes: list[OptionChange] = []
    for name in SUMMARY_FIELDS:
        before, after = old.get(name, defaults[name]), new.get(name, defaults[name])
        if before == after:
            continue
        if name == "healthcheck":
            text = _health_text(before, after)
        else:
            text = f"{name} {_show(before)} -> {_show(after)}"
        changes.append(OptionChange(name, None, before, after, text))
    old_labels: Mapping[str, str] = old.get("labels") or {}
    new_labels: Mapping[str, str] = new.get("labels") or {}
    for key in sorted(set(old_labels) | set(new_labels)):
        before, after = old_labels.get(key), new_labels.get(key)
        if before == after:
            continue
        if before is None:
            text = f"label {key} added: {after}"
        elif after is None:
            text = f"label {key} removed (was: {before})"
        else:
            text = f"label {key} changed: {before} -> {after}"
        changes.append(OptionChange("labels", key, before, after, text))
    return changes


def predates_options(summary_of_old: Mapping[str, Any]) -> bool:
    """True for a summary written before container options entered the spec hash."""
    return "restart" not in summary_of_old


UPGRADE_REASON = (
    "the spec hash now covers container options (restart policy, pids limit, "
    "no-new-privileges) and the app's own network: replaced once after upgrading gitberth"
)


def _health_text(before: str | None, after: str | None) -> str:
    if before is None:
        return f"healthcheck added: {after}"
    if after is None:
        return f"healthcheck removed (was: {before})"
    return f"healthcheck changed: {before} -> {after}"


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)
