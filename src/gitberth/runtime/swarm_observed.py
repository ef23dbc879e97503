"""Reading Swarm's service and task documents: what runs in each slot, how many tasks run, why
the newest ones failed, and a service as the planner's :class:`ObservedContainer`.

Apart from the adapter because these are pure readings of ``GET /services`` and ``GET /tasks``
rows, shared by observing and by waiting for a rollout, and testable without an engine.
"""

from __future__ import annotations

from typing import Any

from gitberth.core.observed import ContainerState, ObservedContainer, ObservedTask
from gitberth.runtime.base import LABEL_APP, LABEL_REVISION, LABEL_SERVICE, LABEL_SPEC_HASH
from gitberth.runtime.docker_observed import created_epoch

ROLLED_BACK = frozenset({"rollback_started", "rollback_paused", "rollback_completed", "paused"})
FAILED_TASK_STATES = frozenset({"failed", "rejected"})


def task_state(task: dict[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State") or "unknown")


def running_count(tasks: list[dict[str, Any]]) -> int:
    return sum(
        1 for t in tasks if task_state(t) == "running" and t.get("DesiredState") == "running"
    )


def fresh_count(tasks: list[dict[str, Any]], *, since: dict[str, Any]) -> int:
    """Running tasks created at or after the service's last spec change (the manager stamps
    both, so one clock compares them)."""
    changed = created_epoch(since.get("UpdatedAt"))
    if changed is None:
        return 0
    return sum(
        1
        for t in tasks
        if task_state(t) == "running"
        and t.get("DesiredState") == "running"
        and (created_epoch(t.get("CreatedAt")) or 0.0) >= changed
    )


def task_errors(tasks: list[dict[str, Any]]) -> str:
    """`` (task error: ...)`` from the newest failed tasks, deduplicated."""
    errors = [
        str((t.get("Status") or {}).get("Err") or "")
        for t in sorted(tasks, key=lambda t: str(t.get("UpdatedAt") or ""), reverse=True)
    ]
    unique = list(dict.fromkeys(e for e in errors if e))[:2]
    return f" (task error: {'; '.join(unique)})" if unique else ""


def current_tasks(
    tasks: list[dict[str, Any]], *, nodes: dict[str, str]
) -> tuple[ObservedTask, ...]:
    """The newest task of each slot: what runs there now, or why it does not."""
    newest: dict[Any, dict[str, Any]] = {}
    for task in sorted(tasks, key=lambda t: str(t.get("UpdatedAt") or "")):
        key = task.get("Slot") if task.get("Slot") is not None else task.get("ID")
        if task.get("DesiredState") == "running" or key not in newest:
            newest[key] = task
        elif newest[key].get("DesiredState") != "running":
            newest[key] = task
    result = []
    for key in sorted(newest, key=str):
        task = newest[key]
        status = task.get("Status") or {}
        node_id = str(task.get("NodeID") or "")
        result.append(
            ObservedTask(
                id=str(task["ID"]),
                slot=int(task["Slot"]) if task.get("Slot") is not None else None,
                node=nodes.get(node_id, node_id[:12]),
                state=str(status.get("State") or "unknown"),
                desired_state=str(task.get("DesiredState") or "unknown"),
                error=str(status.get("Err") or ""),
                message=str(status.get("Message") or ""),
            )
        )
    return tuple(result)


def observed_from_service(
    service: dict[str, Any], tasks: list[dict[str, Any]], *, nodes: dict[str, str]
) -> ObservedContainer:
    """A Swarm service (``GET /services`` row or inspect) and its tasks, as the planner sees
    it: running when every replica's task runs; unhealthy, with Swarm's message, when its last
    update was rolled back or paused."""
    spec = service.get("Spec") or {}
    labels: dict[str, str] = spec.get("Labels") or {}
    replicas = int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas") or 0)
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    update = service.get("UpdateStatus") or {}
    running = running_count(tasks)
    current = current_tasks(tasks, nodes=nodes)
    if running >= replicas:
        state = ContainerState.RUNNING
    elif any(t.state in FAILED_TASK_STATES for t in current):
        state = ContainerState.RESTARTING  # Swarm is rescheduling a failed task
    else:
        state = ContainerState.CREATED  # tasks are being scheduled or started
    health, output = None, ""
    if update.get("State") in ROLLED_BACK:
        health = "unhealthy"
        output = f"update {update.get('State')}: {update.get('Message') or ''}".strip()
    host_port = None
    for task in tasks:
        if task.get("DesiredState") != "running":
            continue
        for port in ((task.get("Status") or {}).get("PortStatus") or {}).get("Ports") or []:
            if port.get("PublishedPort") and host_port is None:
                host_port = int(port["PublishedPort"])
    for port in (service.get("Endpoint") or {}).get("Ports") or []:
        if port.get("PublishedPort") and host_port is None:
            host_port = int(port["PublishedPort"])
    image = str(container.get("Image") or "").split("@", 1)[0]
    return ObservedContainer(
        id=str(service["ID"]),
        name=str(spec.get("Name") or service["ID"]),
        app=labels[LABEL_APP],
        service=labels[LABEL_SERVICE],
        spec_hash=labels[LABEL_SPEC_HASH],
        revision=labels[LABEL_REVISION],
        state=state,
        image=image,
        host_port=host_port,
        labels=labels,
        created_at=created_epoch(service.get("UpdatedAt") or service.get("CreatedAt")),
        health=health,
        health_output=output,
        volumes=tuple(
            sorted(
                str(m.get("Source"))
                for m in container.get("Mounts") or []
                if m.get("Type") == "volume" and m.get("Source")
            )
        ),
        replicas=replicas,
        tasks=current,
    )
