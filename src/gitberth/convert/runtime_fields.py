"""Compose's health check, restart policy and resource limits as gitberth fields.

Durations stay as compose writes them (``1m30s``, ``500ms``): gitberth reads the same notation.
Sizes become binary quantities (``512m`` -> ``512Mi``), since the engine reads compose's units
as powers of 1024.
"""

from __future__ import annotations

from typing import Any

from gitberth.convert.notes import NoteKind, NoteList
from gitberth.convert.values import memory_quantity, scalar_text

_HEALTH_TIMINGS = {
    "interval": "interval",
    "timeout": "timeout",
    "start_period": "startPeriod",
}
RESTART_POLICIES = {
    "no": "no",
    "always": "always",
    "on-failure": "onFailure",
    "unless-stopped": "unlessStopped",
}
_DEPLOY_RESTART = {"none": "no", "on-failure": "onFailure", "any": "always"}


def convert_healthcheck(spec: Any, *, notes: NoteList) -> dict[str, Any] | None:
    """``test: [CMD, ...]`` runs as is, ``CMD-SHELL`` and a string through ``sh -c``."""
    if not isinstance(spec, dict):
        notes.add("healthcheck", NoteKind.NOT_CARRIED, "`healthcheck` must be a mapping")
        return None
    if spec.get("disable") is True or spec.get("test") in (["NONE"], "NONE"):
        notes.add(
            "healthcheck",
            NoteKind.NOT_CARRIED,
            "gitberth always checks a new container before it replaces the old one: the "
            "image's HEALTHCHECK, else a TCP connection to its published port",
        )
        return None
    test = spec.get("test")
    if isinstance(test, str):
        command = ["sh", "-c", test]
    elif isinstance(test, list) and len(test) >= 2 and test[0] == "CMD":
        command = [scalar_text(part) for part in test[1:]]
    elif isinstance(test, list) and len(test) == 2 and test[0] == "CMD-SHELL":
        command = ["sh", "-c", scalar_text(test[1])]
    else:
        reason = (
            "timings without a test: gitberth keeps the image's HEALTHCHECK as it is"
            if test is None
            else "a test is [CMD, ...], [CMD-SHELL, command] or a string"
        )
        notes.add("healthcheck", NoteKind.NOT_CARRIED, reason)
        return None
    check: dict[str, Any] = {"command": command}
    for compose_key, gitberth_key in _HEALTH_TIMINGS.items():
        if spec.get(compose_key) is not None:
            check[gitberth_key] = scalar_text(spec[compose_key])
    if isinstance(spec.get("retries"), int) and not isinstance(spec["retries"], bool):
        check["retries"] = spec["retries"]
    for extra in sorted(set(spec) - {"test", "retries", "disable", *_HEALTH_TIMINGS}):
        notes.add(
            f"healthcheck.{extra}", NoteKind.NOT_CARRIED, "gitberth checks have no such option"
        )
    return check


def convert_restart(value: Any, *, notes: NoteList) -> str | None:
    """``unless-stopped`` -> ``unlessStopped``; ``on-failure:3`` keeps no retry count."""
    text = scalar_text(value) if value is not False else "no"
    policy, _, retries = text.partition(":")
    if policy not in RESTART_POLICIES:
        notes.add("restart", NoteKind.NOT_CARRIED, f"unknown restart policy {text!r}")
        return None
    if retries:
        notes.add(
            "restart",
            NoteKind.CHANGED,
            f"onFailure restarts without a limit; compose stopped after {retries} attempts",
        )
    return RESTART_POLICIES[policy]


def convert_deploy_restart(spec: Any, *, notes: NoteList) -> str | None:
    """Swarm's ``deploy.restart_policy`` as a restart policy (its timings are not kept)."""
    if not isinstance(spec, dict):
        notes.add("deploy.restart_policy", NoteKind.NOT_CARRIED, "must be a mapping")
        return None
    for extra in sorted(set(spec) - {"condition"}):
        notes.add(
            f"deploy.restart_policy.{extra}",
            NoteKind.NOT_CARRIED,
            "the engine restarts at once, without a delay, window or attempt limit",
        )
    condition = spec.get("condition", "any")
    if condition not in _DEPLOY_RESTART:
        notes.add("deploy.restart_policy.condition", NoteKind.NOT_CARRIED, "unknown condition")
        return None
    return _DEPLOY_RESTART[str(condition)]


def _cpus(value: Any, *, key: str, notes: NoteList) -> float | None:
    try:
        cpus = float(value)
    except (TypeError, ValueError):
        cpus = 0.0
    if cpus <= 0 or isinstance(value, bool):
        notes.add(key, NoteKind.NOT_CARRIED, "not a positive number of CPUs")
        return None
    return int(cpus) if cpus.is_integer() else cpus


def _pids(value: Any, *, key: str, notes: NoteList) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    notes.add(key, NoteKind.NOT_CARRIED, "not a positive number of processes (-1 is unlimited)")
    return None


def convert_resources(
    *,
    limits: dict[str, Any],
    mem_limit: Any,
    cpus: Any,
    pids_limit: Any,
    notes: NoteList,
) -> dict[str, Any]:
    """``deploy.resources.limits`` first, then the older ``mem_limit``, ``cpus``, ``pids_limit``
    (compose refuses the two spellings with different values)."""
    resources: dict[str, Any] = {}
    memory = limits.get("memory", mem_limit)
    if memory is not None:
        quantity = memory_quantity(memory)
        if quantity is None:
            notes.add("mem_limit", NoteKind.NOT_CARRIED, f"not a size: {memory!r}")
        else:
            resources["memory"] = quantity
    cpu_value = limits.get("cpus", cpus)
    if cpu_value is not None:
        converted = _cpus(cpu_value, key="cpus", notes=notes)
        if converted is not None:
            resources["cpus"] = converted
    pids = limits.get("pids", pids_limit)
    if pids is not None:
        converted_pids = _pids(pids, key="pids_limit", notes=notes)
        if converted_pids is not None:
            resources["pids"] = converted_pids
    for extra in sorted(set(limits) - {"memory", "cpus", "pids"}):
        notes.add(
            f"deploy.resources.limits.{extra}",
            NoteKind.NOT_CARRIED,
            "gitberth limits memory, cpus and pids only",
        )
    return resources
