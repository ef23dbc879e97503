"""Decide, purely, what to do to make the observed containers match the desired state.

``plan(desired, observed)`` returns an immutable :class:`Plan` of create / replace / remove /
keep actions, one per container slot, each with a reason a person can read. It is level-based:
it looks at the whole desired state and every labelled container each time, so running it again
after its actions were applied yields only keeps. It never mentions a container that lacks
gitberth labels (the runtime does not even report those), and it leaves the containers of
*held* apps (broken manifest, unknown secret, sealed store) exactly as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gitberth.core import option_changes, secret_versions
from gitberth.core.models import ServiceSpec
from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.option_fields import RestartPolicy
from gitberth.core.resolved import ResolvedApp, ResolvedService, SecretSourced, SummaryValue
from gitberth.core.wiring import app_network_name


class ActionKind(StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    REMOVE = "remove"
    KEEP = "keep"


@dataclass(frozen=True)
class Action:
    """One container slot's fate. ``target`` is what to run (create, replace);
    ``container_id`` the existing container (replace, remove, keep)."""

    kind: ActionKind
    app: str
    service: str
    replica: int | None
    container_name: str
    reason: str
    container_id: str | None = None
    target: ResolvedService | None = None

    @property
    def changes_something(self) -> bool:
        return self.kind is not ActionKind.KEEP

    def describe(self) -> str:
        return f"{self.kind.value} {self.container_name}: {self.reason}"


@dataclass(frozen=True)
class DesiredState:
    """What Git (plus the secret store) asks for at one revision.

    ``held`` maps app names whose desired state is unknown (invalid manifest, unknown secret,
    sealed store) to the reason: their containers are kept untouched, never pruned.
    """

    revision: str
    apps: Mapping[str, ResolvedApp]
    held: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    revision: str
    actions: tuple[Action, ...]

    @property
    def changes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.changes_something)

    @property
    def is_noop(self) -> bool:
        return not self.changes

    def for_app(self, app: str) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.app == app)

    @property
    def apps(self) -> tuple[str, ...]:
        return tuple(sorted({a.app for a in self.actions}))


KnownSpecs = Mapping[str, Mapping[str, Any]]
"""Spec hash -> value-free summary (``ResolvedService.describe()``) of specs seen before;
used only to explain *why* a container is replaced."""


def plan(
    desired: DesiredState,
    observed: Iterable[ObservedContainer],
    *,
    known_specs: KnownSpecs | None = None,
    per_service: bool = False,
) -> Plan:
    """Compute the actions that turn *observed* into *desired*, in a deterministic order.

    *per_service* plans one slot per service instead of one per replica, for a runtime whose
    unit is a service with a replica count (Swarm): there the observed entries are services,
    and a changed replica count is part of what is compared (a scale is an update of the
    service, never a new one).
    """
    known = known_specs or {}
    by_app: dict[str, list[ObservedContainer]] = {}
    for container in observed:
        by_app.setdefault(container.app, []).append(container)

    actions: list[Action] = []
    for app in sorted(set(desired.apps) | set(by_app) | set(desired.held)):
        containers = sorted(by_app.get(app, []), key=lambda c: (c.service, c.name))
        if app in desired.held:
            actions.extend(_keep(c, f"held: {desired.held[app]}") for c in containers)
        elif app not in desired.apps:
            actions.extend(
                _remove(c, "app removed from Git" + _kept_volumes(c)) for c in containers
            )
        elif per_service:
            actions.extend(plan_services(desired.apps[app], containers, known))
        else:
            actions.extend(_plan_app(desired.apps[app], containers, known))
    actions.sort(key=_order)
    return Plan(revision=desired.revision, actions=tuple(actions))


def _order(action: Action) -> tuple[str, str, int, str]:
    return (action.app, action.service, action.replica or 0, action.container_name)


def _plan_app(
    app: ResolvedApp, containers: list[ObservedContainer], known: KnownSpecs
) -> list[Action]:
    actions: list[Action] = []
    services = {s.service: s for s in app.services}
    slots: dict[tuple[str, int], ObservedContainer] = {}
    for container in containers:
        service = services.get(container.service)
        replica = container.replica
        if service is None:
            actions.append(
                _remove(
                    container,
                    f"service {container.service} removed from app" + _kept_volumes(container),
                )
            )
        elif replica is None:
            actions.append(
                _remove(container, f"{container.name} is not a replica name gitberth uses")
            )
        elif replica > service.spec.replicas:
            actions.append(_remove(container, f"replica {replica} no longer desired"))
        elif (container.service, replica) in slots:
            actions.append(_remove(container, f"duplicate of replica {replica}"))
        else:
            slots[(container.service, replica)] = container

    for service in app.services:
        for replica in range(1, service.spec.replicas + 1):
            name = service.spec.container_name(replica)
            current = slots.get((service.service, replica))
            if current is None:
                reason = (
                    "new service"
                    if replica == 1 and not any(key[0] == service.service for key in slots)
                    else f"replica {replica} missing"
                )
                if not containers:
                    reason = "new app"
                reason += mount_notes(service.spec)
                actions.append(
                    Action(
                        ActionKind.CREATE,
                        app.name,
                        service.service,
                        replica,
                        name,
                        reason,
                        target=service,
                    )
                )
                continue
            why = _replace_reason(current, service, known)
            if why is None:
                actions.append(_keep(current, "up to date"))
            else:
                actions.append(
                    Action(
                        ActionKind.REPLACE,
                        app.name,
                        service.service,
                        replica,
                        name,
                        why,
                        container_id=current.id,
                        target=service,
                    )
                )
    return actions


def _replace_reason(
    current: ObservedContainer, desired: ResolvedService, known: KnownSpecs
) -> str | None:
    if current.spec_hash != desired.spec_hash:
        previous = known.get(current.spec_hash)
        if previous is None:
            return "spec changed (previous spec unknown: changed by hand or before a restart)"
        changes = describe_changes(previous, desired.describe())
        if not changes and option_changes.predates_options(previous):
            return option_changes.UPGRADE_REASON
        if not changes and "networks" not in previous:
            return f"joins its app's own network {app_network_name(desired.app)}"
        return "; ".join(changes) if changes else "spec changed"
    if current.state is ContainerState.RESTARTING and (
        desired.spec.options.restart is not RestartPolicy.NO
    ):
        return None  # the engine is restarting it under its restart policy; a new one would too
    if current.state is not ContainerState.RUNNING:
        return f"container is {current.state.value}"
    return None


def describe_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Field-level differences between two spec summaries, in words.

    Inline env shows values (they are in Git); secret-sourced values only show that they
    changed and which secret they come from.
    """
    changes: list[str] = []
    for key, label in (("image", "image"), ("port", "port"), ("hostPort", "hostPort")):
        if old.get(key) != new.get(key):
            changes.append(f"{label} {_show(old.get(key))} -> {_show(new.get(key))}")
    if old.get("command") != new.get("command"):
        changes.append(f"command {_show(old.get('command'))} -> {_show(new.get('command'))}")
    changes.extend(wiring_changes(old, new))
    for section, label in (("env", "env"), ("files", "file")):
        before: Mapping[str, SummaryValue] = old.get(section) or {}
        after: Mapping[str, SummaryValue] = new.get(section) or {}
        for name in sorted(set(before) | set(after)):
            if name not in before:
                changes.append(f"{label} {name} added")
            elif name not in after:
                changes.append(f"{label} {name} removed")
            elif before[name] != after[name]:
                changes.append(f"{label} {name} changed{_source_note(before[name], after[name])}")
    changes.extend(change.text for change in option_changes.option_changes(old, new))
    return changes


def wiring_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Network and mount differences in words (``network shared-db added``,
    ``volume data removed (kept, orphaned)``); a volume's data is never deleted by a deploy."""
    changes: list[str] = []
    before_nets, after_nets = old.get("networks") or [], new.get("networks") or []
    changes += [f"network {n} added" for n in after_nets if n not in before_nets]
    changes += [f"network {n} removed" for n in before_nets if n not in after_nets]
    before: Mapping[str, str] = old.get("volumes") or {}
    after: Mapping[str, str] = new.get("volumes") or {}
    for path in sorted(set(before) | set(after)):
        if path not in before:
            changes.append(f"{after[path]} added")
        elif path not in after:
            changes.append(f"{before[path]} removed{_kept_note(before[path])}")
        elif before[path] != after[path]:
            changes.append(f"mount at {path}: {before[path]} -> {after[path]}")
    return changes


def _kept_note(described: str) -> str:
    return " (its data is kept, orphaned)" if described.startswith("volume ") else ""


def mount_notes(spec: ServiceSpec) -> str:
    """``; volume data at /data (shared by 2 replicas); bind /srv/x at /in`` for a plan line,
    so a reviewer sees every mount, and replicas sharing a volume, where containers start."""
    notes = []
    for mount in spec.volumes:
        shared = (
            f" (shared by {spec.replicas} replicas)"
            if mount.name is not None and spec.replicas > 1
            else ""
        )
        notes.append(mount.describe() + shared)
    return "".join(f"; {note}" for note in notes)


def _kept_volumes(container: ObservedContainer) -> str:
    """Removing containers never deletes data: say which volumes stay behind, orphaned."""
    if not container.volumes:
        return ""
    return (
        f"; volume {', '.join(container.volumes)} kept (orphaned; "
        f"`gitberth volumes prune {container.app} --yes` deletes it)"
    )


def _source_note(before: object, after: object) -> str:
    """`` (from secret db-creds, shared)`` when the new value comes from a secret; names only."""
    if not isinstance(after, SecretSourced):
        return ""
    if isinstance(before, SecretSourced) and before.source != after.source:
        return f" (now from {after.source})"
    return f" (from {after.source})"


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _keep(container: ObservedContainer, reason: str) -> Action:
    return Action(
        ActionKind.KEEP,
        container.app,
        container.service,
        container.replica,
        container.name,
        reason,
        container_id=container.id,
    )


def _remove(container: ObservedContainer, reason: str) -> Action:
    return Action(
        ActionKind.REMOVE,
        container.app,
        container.service,
        container.replica,
        container.name,
        reason,
        container_id=container.id,
    )


def plan_services(
    app: ResolvedApp, services: list[ObservedContainer], known: KnownSpecs
) -> list[Action]:
    """One action per service of *app* when the runtime runs services, not containers: a
    missing service is created, one whose spec or replica count differs is updated in place
    (the runtime rolls its tasks, or only scales them), anything else is kept. Tasks that
    stopped are not a reason: the orchestrator reschedules them itself."""
    actions: list[Action] = []
    wanted = {s.service: s for s in app.services}
    current: dict[str, ObservedContainer] = {}
    for seen in services:
        target = wanted.get(seen.service)
        if target is None:
            actions.append(
                _remove(
                    seen,
                    f"service {seen.service} removed from app" + _kept_volumes(seen),
                )
            )
        elif seen.name != target.spec.container_base:
            actions.append(_remove(seen, f"{seen.name} is not a name gitberth uses"))
        elif seen.service in current:
            actions.append(_remove(seen, f"duplicate of service {seen.service}"))
        else:
            current[seen.service] = seen
    for service in app.services:
        name = service.spec.container_base
        observed = current.get(service.service)
        if observed is None:
            reason = ("new app" if not services else "new service") + mount_notes(service.spec)
            if service.spec.replicas != 1:
                reason += f"; {service.spec.replicas} replicas"
            reason += "".join(f"; {note}" for note in _new_versions(service, None))
            actions.append(
                Action(
                    ActionKind.CREATE, app.name, service.service, None, name, reason, target=service
                )
            )
            continue
        reasons = []
        if observed.spec_hash != service.spec_hash:
            reasons.append(_replace_reason(observed, service, known) or "spec changed")
            reasons.extend(_new_versions(service, known.get(observed.spec_hash)))
        if observed.replicas != service.spec.replicas:
            reasons.append(f"replicas {_show(observed.replicas)} -> {service.spec.replicas}")
        if not reasons:
            actions.append(_keep(observed, "up to date"))
            continue
        actions.append(
            Action(
                ActionKind.REPLACE,
                app.name,
                service.service,
                None,
                name,
                "; ".join(reasons),
                container_id=observed.id,
                target=service,
            )
        )
    return actions


def _new_versions(service: ResolvedService, previous: Mapping[str, Any] | None) -> list[str]:
    """``secret version shop-tls-1a2b3c4d`` for each file whose value is new to the service
    (every file when the previous spec is unknown): the immutable version a change creates."""
    before: Mapping[str, str] = (previous or {}).get("files") or {}
    after = service.describe()["files"]
    return [
        f"secret version {secret_versions.file_version(service.app, key, value)}"
        for key, value in sorted(service.files.items())
        if previous is None or before.get(key) != after.get(key)
    ]
