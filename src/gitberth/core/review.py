"""What merging a change to the manifests would do, for a reviewer, computed purely.

``review(base, head)`` compares the desired state at two revisions (two :class:`LoadResult`
values) without Docker, a server or secret values: apps and services added, removed or changed,
field by field, and the containers each change will create, replace or remove, with the reason.
It mirrors the reconciler's rules so the review tells the truth about restarts: a container is
replaced when its image, command, port, host port, inline env, secret references or container
options (health check, restart, resources, labels, process, ports) change (everything that
enters the spec hash), while a replica count change only creates or removes
the surplus replicas. Wording reuses :func:`gitberth.core.plan.describe_changes` so a review and
a live plan say the same thing about the same change.

``check_secrets(head, secrets)`` adds what only a server knows — which secrets exist and their
key names — and is just as pure: it takes the server's answer as values and never sees a secret
value, because the server never sends one. ``compare_running(head, running, secrets=...)``
compares head with what the server runs, including the consumers a secret written since they
started will restart: it compares the secret's ``updatedAt`` with the container's ``createdAt``,
both as the server reported them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from gitberth.core import container_options
from gitberth.core.errors import ManifestProblem
from gitberth.core.manifests import LoadResult
from gitberth.core.models import AppManifest, ServiceSpec, is_env_name
from gitberth.core.plan import describe_changes, wiring_changes


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
class FieldChange:
    """One field of one service that differs.

    ``key`` names the env variable or secret for ``env``, ``envFrom`` and ``secretFiles``.
    ``before`` and ``after`` are manifest text, which is in Git already (inline env values
    included); secret values are never part of a manifest, so never part of a change.
    """

    field: str
    key: str | None
    before: str | None
    after: str | None
    replaces: bool
    text: str


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
    return ServiceReview(spec.service, change, _describe_whole(spec, change), containers)


def _describe_whole(spec: ServiceSpec, change: Change) -> tuple[FieldChange, ...]:
    """An added or repaired service's whole spec, so a reviewer sees what will run; a removed
    service needs no field list, its containers say everything."""
    if change is Change.REMOVED:
        return kept_volumes(spec)
    scalars: list[tuple[str, str | None]] = [
        ("image", spec.image),
        ("command", " ".join(spec.command) if spec.command is not None else None),
        ("port", _text(spec.port)),
        ("hostPort", _text(spec.host_port)),
        ("replicas", str(spec.replicas) if spec.replicas != 1 else None),
    ]
    fields = [
        FieldChange(name, None, None, value, name != "replicas", f"{name} {value}")
        for name, value in scalars
        if value is not None
    ]
    fields += [
        FieldChange("env", key, None, value, True, f"env {key}: {value}") for key, value in spec.env
    ]
    fields += [
        FieldChange(c.field, c.key, None, c.after, True, c.text)
        for c in _option_changes_from_defaults(spec)
    ]
    for field_name, names in (("envFrom", spec.env_from), ("secretFiles", spec.secret_files)):
        fields += [
            FieldChange(field_name, name, None, name, True, f"{field_name} {name}")
            for name in _unique(names)
        ]
    fields += _whole_wiring(spec)
    return tuple(fields)


def field_changes(old: ServiceSpec, new: ServiceSpec) -> tuple[FieldChange, ...]:
    """Every field that differs between two specs of one service, in manifest order."""
    changes: list[FieldChange] = []
    before, after = _summary(old), _summary(new)
    for name in ("image", "command", "port", "hostPort"):
        if before[name] != after[name]:
            (text,) = describe_changes({name: before[name]}, {name: after[name]})
            changes.append(
                FieldChange(name, None, _text(before[name]), _text(after[name]), True, text)
            )
    if old.replicas != new.replicas:
        changes.append(
            FieldChange(
                "replicas",
                None,
                str(old.replicas),
                str(new.replicas),
                False,
                f"replicas {old.replicas} -> {new.replicas}",
            )
        )
    changes.extend(_env_changes(dict(old.env), dict(new.env)))
    changes.extend(
        FieldChange(c.field, c.key, c.before, c.after, True, c.text)
        for c in container_options.option_changes(
            container_options.summary(old.options), container_options.summary(new.options)
        )
    )
    changes.extend(_reference_changes("envFrom", old.env_from, new.env_from))
    changes.extend(_reference_changes("secretFiles", old.secret_files, new.secret_files))
    changes.extend(wiring_field_changes(old, new))
    return tuple(changes)


# --- networks, volumes, pulls and rollout ----------------------------------------------------


def _whole_wiring(spec: ServiceSpec) -> list[FieldChange]:
    """What an added service joins, mounts and pulls with; every bind mount is named."""
    fields = [
        FieldChange("networks", name, None, name, True, f"network {name}") for name in spec.networks
    ]
    for mount in spec.volumes:
        text = mount.describe()
        if mount.name is not None and spec.replicas > 1:
            text += f" (shared by {spec.replicas} replicas)"
        fields.append(FieldChange("volumes", mount.path, None, text, True, text))
    defaults = {"pull": "missing", "imagePullSecret": None, "rollout": None}
    for name, value in _wiring_settings(spec).items():
        if value != defaults[name]:
            fields.append(FieldChange(name, None, None, value, False, f"{name} {value}"))
    return fields


def _wiring_settings(spec: ServiceSpec) -> dict[str, str | None]:
    """Settings that change how containers are started, not what runs: they replace nothing."""
    implied = "stopFirst" if spec.host_port is not None else "startFirst"  # hostPort says it
    rollout = spec.rollout if spec.rollout != implied else None
    if spec.shared_volume_ok:
        rollout = f"{spec.rollout} (sharedVolumeOk)"
    return {"pull": spec.pull, "imagePullSecret": spec.image_pull_secret, "rollout": rollout}


def kept_volumes(spec: ServiceSpec) -> tuple[FieldChange, ...]:
    """A removed service's named volumes stay, orphaned: a deploy never deletes data."""
    return tuple(
        FieldChange(
            "volumes",
            mount.path,
            mount.describe(),
            None,
            False,
            f"volume {mount.engine_name(spec.app)} kept (orphaned; "
            f"`gitberth volumes prune {spec.app} --yes` deletes it)",
        )
        for mount in spec.volumes
        if mount.name is not None
    )


def wiring_field_changes(old: ServiceSpec, new: ServiceSpec) -> list[FieldChange]:
    """Networks and mounts (they replace containers; a removed volume's data is kept), then
    pull, pull secret and rollout settings (they replace nothing)."""
    changes = [
        FieldChange("networks", name, None, name, True, f"network {name} added")
        for name in new.networks
        if name not in old.networks
    ] + [
        FieldChange("networks", name, name, None, True, f"network {name} removed")
        for name in old.networks
        if name not in new.networks
    ]
    before = {m.path: m for m in old.volumes}
    after = {m.path: m for m in new.volumes}
    for path in sorted(set(before) | set(after)):
        old_mount, new_mount = before.get(path), after.get(path)
        old_text = old_mount.describe() if old_mount else None
        new_text = new_mount.describe() if new_mount else None
        changes += [
            FieldChange("volumes", path, old_text, new_text, True, text)
            for text in wiring_changes(
                {"volumes": {path: old_text} if old_text else {}},
                {"volumes": {path: new_text} if new_text else {}},
            )
        ]
    if new.replicas > 1 and any(m.name for m in new.volumes) and old.replicas != new.replicas:
        shared = ", ".join(m.name for m in new.volumes if m.name)
        changes.append(
            FieldChange(
                "volumes",
                None,
                None,
                None,
                False,
                f"volume {shared} shared by {new.replicas} replicas",
            )
        )
    old_settings, new_settings = _wiring_settings(old), _wiring_settings(new)
    for name in old_settings:
        if old_settings[name] != new_settings[name]:
            was, now = old_settings[name], new_settings[name]
            changes.append(
                FieldChange(
                    name,
                    None,
                    was,
                    now,
                    False,
                    f"{name} {_text(was) or '(none)'} -> {_text(now) or '(none)'}",
                )
            )
    return changes


def _summary(spec: ServiceSpec) -> dict[str, Any]:
    """The secret-free part of :func:`gitberth.core.models.spec_summary`, which needs
    resolved values; the keys match so :func:`describe_changes` reads it the same way."""
    return {
        "image": spec.image,
        "command": list(spec.command) if spec.command is not None else None,
        "port": spec.port,
        "hostPort": spec.host_port,
    }


def _option_changes_from_defaults(spec: ServiceSpec) -> list[container_options.OptionChange]:
    """The options a new service sets, told as what it asks for (``restart always``), not as a
    change from the defaults; options left at their default are not listed."""
    defaults = container_options.summary(container_options.ContainerOptions())
    changes = container_options.option_changes(defaults, container_options.summary(spec.options))
    return [
        container_options.OptionChange(
            c.field,
            c.key,
            None,
            c.after,
            f"label {c.key}: {c.after}" if c.key is not None else f"{c.field} {c.after}",
        )
        for c in changes
        if c.after is not None
    ]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return str(value)


def _env_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            text = f"env {key} added: {new[key]}"
        elif key not in new:
            text = f"env {key} removed (was: {old[key]})"
        elif old[key] != new[key]:
            text = f"env {key} changed: {old[key]} -> {new[key]}"
        else:
            continue
        changes.append(FieldChange("env", key, old.get(key), new.get(key), True, text))
    return changes


def _reference_changes(
    field_name: str, old: Sequence[str], new: Sequence[str]
) -> list[FieldChange]:
    """Secret references added or removed; a new order alone is a change of precedence, which
    replaces containers only when two of the secrets share a key name."""
    before, after = _unique(old), _unique(new)
    changes = [
        FieldChange(field_name, name, None, name, True, f"{field_name} {name} added")
        for name in after
        if name not in before
    ] + [
        FieldChange(field_name, name, name, None, True, f"{field_name} {name} removed")
        for name in before
        if name not in after
    ]
    kept_before = [n for n in before if n in after]
    kept_after = [n for n in after if n in before]
    if kept_before != kept_after:
        old_order, new_order = ", ".join(kept_before), ", ".join(kept_after)
        changes.append(
            FieldChange(
                field_name,
                None,
                old_order,
                new_order,
                False,
                f"{field_name} order {old_order} -> {new_order} "
                "(restarts only if these secrets share a key name)",
            )
        )
    return changes


def _unique(names: Sequence[str]) -> list[str]:
    """Keep the last occurrence of each name: that is the one whose keys win."""
    last = {name: index for index, name in enumerate(names)}
    return sorted(last, key=last.__getitem__)


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


# --- What a server adds: secret existence and key names -------------------------------------


@dataclass(frozen=True)
class SecretInfo:
    """One secret as ``GET /secrets`` lists it: names and key names, never values."""

    name: str
    app_id: str | None
    keys: tuple[str, ...]
    updated_at: str | None = None


class Severity(StrEnum):
    ERROR = "error"
    """The reconciler would block the app (``unknown_secret``) or the container cannot work."""
    WARNING = "warning"


@dataclass(frozen=True)
class SecretFinding:
    app: str
    service: str | None
    secret: str | None
    severity: Severity
    code: str
    message: str


@dataclass(frozen=True)
class SecretUse:
    """One secret a service consumes at head, which scope wins, and the key names it gets."""

    app: str
    service: str
    secret: str
    mode: str  # "envFrom" or "secretFiles"
    scope: str | None  # the appId of an app-scoped secret, None for shared
    keys: tuple[str, ...]
    updated_at: str | None


@dataclass(frozen=True)
class SecretCheck:
    findings: tuple[SecretFinding, ...]
    uses: tuple[SecretUse, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)


def check_secrets(
    head: LoadResult, secrets: Iterable[SecretInfo], *, apps: Iterable[str] | None = None
) -> SecretCheck:
    """Check every secret reference of head (or of *apps*) against what the server holds.

    Errors: a name that exists in neither scope (the reconciler would hold the app with
    ``unknown_secret``), a secret with no keys, an ``envFrom`` key that cannot be an
    environment variable. Warnings: inline env that overrides a key a secret provides, and two
    secrets of one service that provide the same key (the later one wins).
    """
    by_key = {(s.app_id, s.name): s for s in secrets}
    wanted = sorted(head.apps) if apps is None else sorted(set(apps) & set(head.apps))
    findings: list[SecretFinding] = []
    uses: list[SecretUse] = []
    for app_name in wanted:
        manifest = head.apps[app_name]
        missing = [
            name
            for name in manifest.secret_names()
            if (app_name, name) not in by_key and (None, name) not in by_key
        ]
        findings.extend(
            SecretFinding(
                app_name,
                None,
                name,
                Severity.ERROR,
                "unknown_secret",
                f"secret {name} exists neither for app {app_name} nor shared",
            )
            for name in missing
        )
        for spec in manifest.service_specs():
            service_uses = _uses(spec, by_key)
            uses.extend(service_uses)
            findings.extend(_service_findings(spec, service_uses))
    reported: set[tuple[str, str | None, str | None, str]] = set()
    unique = []
    for finding in findings:
        identity = (finding.app, finding.service, finding.secret, finding.message)
        if identity not in reported:
            reported.add(identity)
            unique.append(finding)
    return SecretCheck(tuple(unique), tuple(uses))


def _uses(
    spec: ServiceSpec, by_key: Mapping[tuple[str | None, str], SecretInfo]
) -> list[SecretUse]:
    found: list[SecretUse] = []
    for mode, names in (("envFrom", spec.env_from), ("secretFiles", spec.secret_files)):
        for name in _unique(names):
            info = by_key.get((spec.app, name)) or by_key.get((None, name))
            if info is not None:
                found.append(
                    SecretUse(
                        spec.app,
                        spec.service,
                        name,
                        mode,
                        info.app_id,
                        tuple(sorted(info.keys)),
                        info.updated_at,
                    )
                )
    return found


def _service_findings(spec: ServiceSpec, uses: Sequence[SecretUse]) -> list[SecretFinding]:
    findings: list[SecretFinding] = []
    inline = dict(spec.env)
    provided: dict[str, str] = {}
    for use in uses:
        if not use.keys:
            findings.append(
                SecretFinding(
                    spec.app,
                    spec.service,
                    use.secret,
                    Severity.ERROR,
                    "empty_secret",
                    f"secret {use.secret} has no keys, so {use.mode} gives this service nothing",
                )
            )
        if use.mode != "envFrom":
            continue
        for key in use.keys:
            if not is_env_name(key):
                findings.append(
                    SecretFinding(
                        spec.app,
                        spec.service,
                        use.secret,
                        Severity.ERROR,
                        "invalid_env_key",
                        f"key {key!r} of secret {use.secret} is not a valid env variable name",
                    )
                )
            elif key in inline:
                findings.append(
                    SecretFinding(
                        spec.app,
                        spec.service,
                        use.secret,
                        Severity.WARNING,
                        "overridden_by_inline_env",
                        f"inline env {key} overrides key {key} of secret {use.secret}",
                    )
                )
            elif key in provided and provided[key] != use.secret:
                findings.append(
                    SecretFinding(
                        spec.app,
                        spec.service,
                        use.secret,
                        Severity.WARNING,
                        "shared_key",
                        f"key {key} of secret {use.secret} overrides the one of secret "
                        f"{provided[key]} (later envFrom wins)",
                    )
                )
            provided[key] = use.secret
    return findings


# --- What runs on the server, compared with head ----------------------------------------------


@dataclass(frozen=True)
class RunningContainer:
    """One container as the server's ``GET /apps`` lists it (no spec hash, no values).

    ``created_at`` is ISO 8601 (``createdAt``); None when the server does not list it.
    """

    name: str
    service: str
    state: str
    image: str
    revision: str
    created_at: str | None = None


@dataclass(frozen=True)
class RunningApp:
    name: str
    sync: str
    health: str
    applied_revision: str | None
    error: str | None
    containers: tuple[RunningContainer, ...]


@dataclass(frozen=True)
class RunningDrift:
    """How head differs from what runs for one app, as far as the server's listing shows."""

    app: str
    sync: str | None
    health: str | None
    applied_revision: str | None
    error: str | None
    containers: tuple[ContainerChange, ...]


def compare_running(
    head: LoadResult, running: Iterable[RunningApp], *, secrets: Iterable[SecretInfo] = ()
) -> tuple[RunningDrift, ...]:
    """Which running containers head would create, remove or replace, and apps not in sync.

    The listing carries names, images, states and start times, not spec hashes, so a
    replacement shows here when the image differs, the container is not running, or a secret
    whose keys reach it (app-scoped over shared, after inline env and later references) was
    written at least a second after it started (*secrets*, as ``GET /secrets`` lists them);
    an env or command change is in the Git review instead. Apps invalid at head, or that
    reference a secret that exists in neither scope, are held by the reconciler: they restart
    nothing, so no secret change is named for them.
    """
    by_name = {app.name: app for app in running}
    by_key = {(s.app_id, s.name): s for s in secrets}
    drifts: list[RunningDrift] = []
    for name in sorted(set(by_name) | set(head.apps)):
        if name in head.problems:
            continue
        current = by_name.get(name)
        manifest = head.apps.get(name)
        containers = _running_changes(manifest, current, by_key)
        synced = current is None or current.sync == "Synced"
        if not containers and synced:
            continue
        drifts.append(
            RunningDrift(
                app=name,
                sync=current.sync if current else None,
                health=current.health if current else None,
                applied_revision=current.applied_revision if current else None,
                error=current.error if current else None,
                containers=containers,
            )
        )
    return tuple(drifts)


def _running_changes(
    manifest: AppManifest | None,
    current: RunningApp | None,
    by_key: Mapping[tuple[str | None, str], SecretInfo],
) -> tuple[ContainerChange, ...]:
    running = {c.name: c for c in current.containers} if current else {}
    desired = {
        spec.container_name(n): spec
        for spec in (manifest.service_specs() if manifest else ())
        for n in range(1, spec.replicas + 1)
    }
    blocked = manifest is not None and any(
        (manifest.name, name) not in by_key and (None, name) not in by_key
        for name in manifest.secret_names()
    )
    changes: list[ContainerChange] = []
    for name, spec in desired.items():
        container = running.get(name)
        if container is None:
            changes.append(ContainerChange(name, ContainerAction.CREATE, "not running now"))
            continue
        reasons = []
        if container.image != spec.image:
            reasons.append(f"runs image {container.image}, head wants {spec.image}")
        elif container.state != "running":
            reasons.append(f"container is {container.state}")
        changed = () if blocked else changed_secrets(spec, container.created_at, by_key)
        reasons += [secret.text for secret in changed]
        if reasons:
            changes.append(
                ContainerChange(
                    name,
                    ContainerAction.REPLACE,
                    "; ".join(reasons),
                    created_at=container.created_at,
                    changed_secrets=changed,
                )
            )
    reason = "app not in head" if manifest is None else "not desired at head"
    changes.extend(
        ContainerChange(name, ContainerAction.REMOVE, reason)
        for name in sorted(running)
        if name not in desired
    )
    return tuple(changes)


def changed_secrets(
    spec: ServiceSpec,
    created_at: str | None,
    by_key: Mapping[tuple[str | None, str], SecretInfo],
) -> tuple[ChangedSecret, ...]:
    """The secrets of *spec* written since a container created at *created_at* started.

    Only keys that reach the container count, as :func:`gitberth.core.resolve.resolve_service`
    decides: for env, the last ``envFrom`` secret providing a key wins unless inline env sets
    it; for files, the last ``secretFiles`` secret. Times compare to the second, since the
    engine lists creation times in whole seconds: a secret written in the second the container
    started is not named (the container may or may not have it).
    """
    started = _instant(created_at)
    if started is None:
        return ()
    started = float(int(started))
    env_owner: dict[str, str] = {}
    for name in spec.env_from:
        info = _pick(spec.app, name, by_key)
        env_owner.update(dict.fromkeys(info.keys if info else (), name))
    for key in dict(spec.env):
        env_owner.pop(key, None)
    file_owner: dict[str, str] = {}
    for name in spec.secret_files:
        info = _pick(spec.app, name, by_key)
        file_owner.update(dict.fromkeys(info.keys if info else (), name))
    winners: dict[str, set[str]] = {}
    for key, name in (*env_owner.items(), *file_owner.items()):
        winners.setdefault(name, set()).add(key)
    changed: list[ChangedSecret] = []
    for name in _unique((*spec.env_from, *spec.secret_files)):
        info = _pick(spec.app, name, by_key)
        if info is None or info.updated_at is None or name not in winners:
            continue
        updated = _instant(info.updated_at)
        if updated is None or updated < started + 1:
            continue
        changed.append(
            ChangedSecret(name, info.app_id, tuple(sorted(winners[name])), info.updated_at)
        )
    return tuple(changed)


def _pick(
    app: str, name: str, by_key: Mapping[tuple[str | None, str], SecretInfo]
) -> SecretInfo | None:
    """The app-scoped secret of that name if there is one, else the shared one."""
    return by_key.get((app, name)) or by_key.get((None, name))


def _instant(text: str | None) -> float | None:
    """An ISO 8601 time with a zone (``Z`` or an offset) as POSIX seconds; None otherwise."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None
