"""What merging a change to the manifests would do, for a reviewer, computed purely.

``review(base, head)`` compares the desired state at two revisions (two :class:`LoadResult`
values) without Docker, a server or secret values: apps and services added, removed or changed,
field by field (:mod:`gitberth.core.review_fields`), and the containers each change will
create, replace or remove, with the reason. It mirrors the reconciler's rules so the review
tells the truth about restarts: a container is replaced when its image, command, port, host
port, inline env, secret references or container options (health check, restart, resources,
labels, process, ports) change (everything that enters the spec hash), while a replica count
change only creates or removes the surplus replicas.

What only a server knows is compared in two sibling modules, just as pure:
:mod:`gitberth.core.review_secrets` (which secrets exist, their key names) and
:mod:`gitberth.core.review_running` (what runs, and what a secret written since restarts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gitberth.core.errors import ManifestProblem
from gitberth.core.manifests import LoadResult
from gitberth.core.models import AppManifest, ServiceSpec
from gitberth.core.review_fields import (
    FieldChange,
    field_changes,
    kept_volumes,
    whole_spec_fields,
)


class Change(StrEnum):
    """How an app or a service differs between base and head."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    REPAIRED = "repaired"
    """Invalid at base, valid at head: what runs is whatever an older revision started."""
    INVALID = "invalid"
    """Invalid at head: the reconciler will hold this app's containers exactly as they are."""


class ContainerAction(StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    REMOVE = "remove"


@dataclass(frozen=True)
class ChangedSecret:
    """A secret a running container consumes that was written after the container started."""

    secret: str
    scope: str | None  # the appId of an app-scoped secret, None for shared
    keys: tuple[str, ...]  # the key names that reach the container, never values
    updated_at: str

    @property
    def text(self) -> str:
        scope = f"app {self.scope}" if self.scope else "shared"
        return (
            f"secret {self.secret} ({scope}) changed since it started (keys {', '.join(self.keys)})"
        )


@dataclass(frozen=True)
class ContainerChange:
    """One container the change creates, replaces or removes, and why.

    For a running container, ``created_at`` is when it started (as the server lists it) and
    ``changed_secrets`` the secrets written since, each of which alone restarts it.
    """

    name: str
    action: ContainerAction
    reason: str
    created_at: str | None = None
    changed_secrets: tuple[ChangedSecret, ...] = ()


@dataclass(frozen=True)
class ServiceReview:
    name: str
    change: Change
    fields: tuple[FieldChange, ...] = ()
    containers: tuple[ContainerChange, ...] = ()


@dataclass(frozen=True)
class AppReview:
    name: str
    change: Change
    file: str | None
    services: tuple[ServiceReview, ...] = ()
    problems: tuple[ManifestProblem, ...] = ()

    def containers(self, action: ContainerAction) -> tuple[ContainerChange, ...]:
        return tuple(c for s in self.services for c in s.containers if c.action is action)


@dataclass(frozen=True)
class Review:
    """Every app that differs between base and head (unchanged apps are only counted)."""

    apps: tuple[AppReview, ...]
    unchanged: int
    base_problems: tuple[ManifestProblem, ...] = ()

    @property
    def problems(self) -> tuple[ManifestProblem, ...]:
        """Head problems: each one blocks its app from being applied."""
        return tuple(p for app in self.apps for p in app.problems)

    @property
    def invalid(self) -> bool:
        return any(app.change is Change.INVALID for app in self.apps)

    @property
    def changed(self) -> bool:
        return any(app.change is not Change.INVALID for app in self.apps)

    def count(self, change: Change) -> int:
        return sum(1 for app in self.apps if app.change is change)

    def containers(self, action: ContainerAction) -> tuple[ContainerChange, ...]:
        return tuple(c for app in self.apps for c in app.containers(action))


def review(base: LoadResult, head: LoadResult) -> Review:
    """Compare the desired state of two revisions, app by app, in name order."""
    apps: list[AppReview] = []
    unchanged = 0
    for name in sorted(set(base.apps) | set(head.apps) | set(head.problems) | set(base.problems)):
        app = _review_app(name, base=base, head=head)
        if app is None:
            unchanged += 1
        else:
            apps.append(app)
    return Review(apps=tuple(apps), unchanged=unchanged, base_problems=base.all_problems)


def _review_app(name: str, *, base: LoadResult, head: LoadResult) -> AppReview | None:
    file = head.files.get(name) or base.files.get(name)
    if name in head.problems:
        return AppReview(name, Change.INVALID, file, problems=head.problems[name])
    old, new = base.apps.get(name), head.apps.get(name)
    if new is None:
        if old is None:  # invalid at base and gone at head: nothing Git can say about it
            return AppReview(name, Change.REMOVED, file)
        services = tuple(
            _whole_service(s, Change.REMOVED, reason="app removed") for s in old.service_specs()
        )
        return AppReview(name, Change.REMOVED, file, services)
    if old is None:
        change = Change.REPAIRED if name in base.problems else Change.ADDED
        reason = (
            "manifest was invalid at base: replaces whatever an older revision started"
            if change is Change.REPAIRED
            else "new app"
        )
        services = tuple(_whole_service(s, change, reason=reason) for s in new.service_specs())
        return AppReview(name, change, file, services)
    if old is new:  # the same text at both revisions parses to the same (cached) manifest
        return None
    services = _compare_services(old, new)
    if not services:
        return None
    return AppReview(name, Change.CHANGED, file, services)


def _compare_services(old: AppManifest, new: AppManifest) -> tuple[ServiceReview, ...]:
    before = {s.service: s for s in old.service_specs()}
    after = {s.service: s for s in new.service_specs()}
    reviews: list[ServiceReview] = []
    # Head order first (the order the author wrote), then services that disappear.
    for name, spec in after.items():
        previous = before.get(name)
        if previous is None:
            reviews.append(_whole_service(spec, Change.ADDED, reason="new service"))
            continue
        fields = field_changes(previous, spec)
        if fields:
            containers = _containers_for(previous, spec, fields)
            reviews.append(ServiceReview(name, Change.CHANGED, fields, containers))
    for name, spec in before.items():
        if name not in after:
            reviews.append(_whole_service(spec, Change.REMOVED, reason="service removed"))
    return tuple(reviews)


_WHOLE_ACTION = {
    Change.ADDED: ContainerAction.CREATE,
    Change.REMOVED: ContainerAction.REMOVE,
    Change.REPAIRED: ContainerAction.REPLACE,
}


def _whole_service(spec: ServiceSpec, change: Change, *, reason: str) -> ServiceReview:
    """A service that exists on one side only: every replica is created, removed, or (for a
    repaired app) replaced."""
    containers = tuple(
        ContainerChange(spec.container_name(n), _WHOLE_ACTION[change], reason)
        for n in range(1, spec.replicas + 1)
    )
    fields = kept_volumes(spec) if change is Change.REMOVED else whole_spec_fields(spec)
    return ServiceReview(spec.service, change, fields, containers)


def _containers_for(
    old: ServiceSpec, new: ServiceSpec, fields: Sequence[FieldChange]
) -> tuple[ContainerChange, ...]:
    """Replicas present before and after are replaced when a replacing field changed; the
    surplus of a scale-up is created, that of a scale-down removed, and nothing else moves."""
    reason = "; ".join(f.text for f in fields if f.replaces)
    scale = f"replicas {old.replicas} -> {new.replicas}"
    containers: list[ContainerChange] = []
    if reason:
        containers.extend(
            ContainerChange(new.container_name(n), ContainerAction.REPLACE, reason)
            for n in range(1, min(old.replicas, new.replicas) + 1)
        )
    containers.extend(
        ContainerChange(new.container_name(n), ContainerAction.CREATE, scale)
        for n in range(old.replicas + 1, new.replicas + 1)
    )
    containers.extend(
        ContainerChange(old.container_name(n), ContainerAction.REMOVE, scale)
        for n in range(new.replicas + 1, old.replicas + 1)
    )
    return tuple(containers)
