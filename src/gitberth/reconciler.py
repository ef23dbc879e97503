"""One reconcile pass: Git revision + secrets -> desired state -> plan -> actions on the engine.

This is the only module that wires the pure core to the adapters. A pass is level-based (it
looks at everything each time) and isolates apps from each other: a broken manifest, an unknown
secret or a failing container affects only its own app, whose running containers are then left
exactly as they are.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import git

from gitberth.core.binds import BindPolicy
from gitberth.core.container_options import PublishPolicy
from gitberth.core.errors import (
    ActionFailedError,
    ImagePullFailedError,
    ResolveError,
    SealedError,
    SecretIntegrityError,
    UnknownSecretError,
)
from gitberth.core.manifests import LoadResult, load_manifests
from gitberth.core.observed import ObservedContainer
from gitberth.core.ownership import partition
from gitberth.core.plan import Action, ActionKind, DesiredState, Plan, plan
from gitberth.core.prune import guard_prune
from gitberth.core.reports import AppReport as AppReport  # re-exported: the pass API
from gitberth.core.reports import AppStatus as AppStatus
from gitberth.core.resolve import SecretKey, Secrets, candidate_keys, redact, resolve_app
from gitberth.core.resolved import ResolvedApp
from gitberth.pass_resources import networks_in_use, pull_for_plan
from gitberth.runtime.base import Engine, HostResources
from gitberth.source import Revision, read_revision


class SecretSource(Protocol):
    """What the reconciler needs from the secret store."""

    def materials(self, keys: Iterable[SecretKey]) -> Secrets:
        """The existing secrets among *keys*, decrypted; raises SealedError when sealed."""
        ...


class NoSecretStore:
    """Stands in when no secret store is configured: apps that reference secrets are held."""

    def materials(self, keys: Iterable[SecretKey]) -> Secrets:
        if not list(keys):
            return {}
        raise SealedError(
            "no secret store is configured (run `gitberth serve --state-dir DIR` or pass "
            "--state-dir), so apps that reference secrets cannot be resolved"
        )


@dataclass
class ReconcileResult:
    revision: str
    plan: Plan
    apps: dict[str, AppReport]
    duration_seconds: float = 0.0
    observed: list[ObservedContainer] = field(default_factory=list)
    """What the one list call of this pass saw of this source's containers, before any
    action."""
    prune_refused: str | None = None
    """Why removals of whole apps were held back this pass, when they were."""
    left_alone: list[str] = field(default_factory=list)
    """Containers on the engine that are not this source's, in words (see core.ownership)."""

    @property
    def ok(self) -> bool:
        return not any(report.status.is_error for report in self.apps.values())

    @property
    def failed_apps(self) -> list[str]:
        return sorted(name for name, r in self.apps.items() if r.status.is_error)


class EventKind(StrEnum):
    STARTED = "started"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ActionEvent:
    kind: EventKind
    action: Action
    container: ObservedContainer | None = None
    error: str | None = None


Listener = Callable[[ActionEvent], None]
AppDone = Callable[["AppReport"], None]
"""Told each app's report as soon as its actions are done (from the worker threads)."""
SpecHistory = Callable[[str], Mapping[str, Mapping[str, Any]]]
"""Revision sha -> {spec hash: summary} of the specs that revision asked for."""


@dataclass
class Desired:
    state: DesiredState
    loaded: LoadResult
    reports: dict[str, AppReport]


def build_desired(
    revision: Revision,
    *,
    secrets: SecretSource,
    publish: PublishPolicy | None = None,
    binds: BindPolicy | None = None,
) -> Desired:
    """Load, validate and resolve every app of *revision*; hold the ones that cannot be.

    *publish* is the server's publishing policy: its default address enters every spec hash,
    and a manifest that asks for one of its reserved host ports is invalid. A bind mount *binds*
    refuses (by default: every one) makes its manifest invalid too.
    """
    publish = publish or PublishPolicy()
    loaded = load_manifests(
        revision.files,
        apps_dir=revision.apps_dir,
        not_utf8=revision.not_utf8,
        reserved_host_ports=publish.reserved_host_ports,
        binds=binds,
        too_large=revision.too_large,
    )
    reports: dict[str, AppReport] = {}
    held: dict[str, str] = {}
    for name, problems in loaded.problems.items():
        held[name] = f"invalid manifest ({problems[0].file})"
        reports[name] = AppReport(
            name,
            AppStatus.INVALID,
            message="; ".join(str(p) for p in problems),
            code="invalid_manifest",
            problems=problems,
        )

    keys = [key for manifest in loaded.apps.values() for key in candidate_keys(manifest)]
    available: Secrets | None
    sealed_message = ""
    unreadable: dict[SecretKey, str] = {}
    try:
        available = secrets.materials(keys) if keys else {}
    except SealedError as exc:
        available, sealed_message = None, str(exc)
    except SecretIntegrityError:
        available, unreadable = _materials_one_by_one(secrets, keys)

    apps: dict[str, ResolvedApp] = {}
    for name, manifest in sorted(loaded.apps.items()):
        broken = [unreadable[k] for k in candidate_keys(manifest) if k in unreadable]
        if broken:
            message = "; ".join(dict.fromkeys(broken))
            held[name] = message
            reports[name] = AppReport(
                name, AppStatus.BLOCKED, message=message, code=SecretIntegrityError.code
            )
            continue
        try:
            apps[name] = resolve_app(
                manifest, secrets=available, publish_address=publish.default_address
            )
        except ResolveError as exc:
            message = str(exc)
            if isinstance(exc, SealedError) and sealed_message:
                message = f"uses secret(s) {', '.join(manifest.secret_names())}: {sealed_message}"
            held[name] = message
            reports[name] = AppReport(
                name,
                AppStatus.BLOCKED,
                message=message,
                code=exc.code,
                missing=exc.missing if isinstance(exc, UnknownSecretError) else (),
            )
    return Desired(DesiredState(revision.sha, apps, held), loaded, reports)


def _materials_one_by_one(
    secrets: SecretSource, keys: Iterable[SecretKey]
) -> tuple[Secrets, dict[SecretKey, str]]:
    """Every readable secret among *keys*, and why each unreadable one is not: one record that
    does not decrypt must hold only the apps that use it, not the whole pass."""
    available: dict[SecretKey, Any] = {}
    unreadable: dict[SecretKey, str] = {}
    for key in dict.fromkeys(keys):
        try:
            available.update(secrets.materials([key]))
        except SecretIntegrityError as exc:
            app_id, name = key
            scope = f"scoped to {app_id}" if app_id else "shared"
            unreadable[key] = (
                f"secret {name} ({scope}) does not decrypt ({exc}); write it again with "
                "POST /secrets"
            )
    return available, unreadable


def spec_summaries(
    desired: DesiredState, *, known: Collection[str] = ()
) -> dict[str, Mapping[str, Any]]:
    """Spec hash -> summary of every service *desired* asks for, but those in *known*."""
    return {
        s.spec_hash: s.describe()
        for app in desired.apps.values()
        for s in app.services
        if s.spec_hash not in known
    }


def history_from_repo(
    repo: git.Repo,
    *,
    apps_dir: str,
    secrets: SecretSource,
    publish: PublishPolicy | None = None,
    binds: BindPolicy | None = None,
) -> SpecHistory:
    """A :data:`SpecHistory` reading older revisions from *repo*, resolved with *secrets*."""

    def specs_at(sha: str) -> Mapping[str, Mapping[str, Any]]:
        revision = read_revision(repo, rev=sha, apps_dir=apps_dir)
        desired = build_desired(revision, secrets=secrets, publish=publish, binds=binds)
        return spec_summaries(desired.state)

    return specs_at


def reconcile_once(
    *,
    revision: Revision,
    runtime: Engine,
    secrets: SecretSource | None = None,
    dry_run: bool = False,
    listener: Listener | None = None,
    known_specs: MutableMapping[str, Mapping[str, Any]] | None = None,
    history: SpecHistory | None = None,
    only_apps: frozenset[str] | None = None,
    workers: int = 1,
    desired: Desired | None = None,
    prune: bool = True,
    allow_empty: bool = True,
    stop: threading.Event | None = None,
    publish: PublishPolicy | None = None,
    on_app_done: AppDone | None = None,
) -> ReconcileResult:
    """Make the engine match *revision*: one observe, one plan, then the plan's actions.

    With *dry_run* nothing is changed and every app with changes is reported as planned.
    *only_apps* restricts the actions (not the observation) to some apps, for deploys.
    *desired*, when the caller already built it for this revision, saves reading and resolving
    the manifests again (the loop's no-op pass does no Git work).
    Whole apps are removed only when *prune* is set (the revision was read completely) and,
    when the revision has no app at all, only with *allow_empty* (see
    :func:`gitberth.core.prune.guard_prune`).
    *stop* is checked before each action, so a shutdown finishes the action in flight only.
    *publish* is the server's publishing policy (default address, reserved host ports), used
    when the desired state is built here.
    *on_app_done* hears each app's report as soon as that app's actions are done, so status
    can show it while the other apps of a long pass (1,000 new apps) are still applied.
    """
    started = time.monotonic()
    # A runtime whose applies mostly wait for an orchestrator (Swarm) runs more apps at once.
    workers = max(workers, int(getattr(runtime, "apply_workers", 1)))
    resources = runtime if isinstance(runtime, HostResources) else None
    if desired is None:
        desired = build_desired(
            revision,
            secrets=secrets or NoSecretStore(),
            publish=publish,
            binds=resources.bind_policy if resources is not None else None,
        )
    ownership = partition(
        runtime.observe(),
        source=runtime.source,
        apps=set(desired.loaded.files) | set(desired.state.apps) | set(desired.state.held),
    )
    observed = redact_health_output(ownership.own, desired=desired.state)
    known = known_specs if known_specs is not None else {}
    # Only specs not summarised yet: describing all 1,000 of them again was a fifth of a
    # no-op pass, and each write to a persistent ledger is a transaction.
    new_specs = spec_summaries(desired.state, known=known)
    if new_specs:
        known.update(new_specs)
    _learn_history(observed, known=known, history=history, current=revision.sha)
    the_plan, refused = guard_prune(
        plan(
            desired.state,
            observed,
            known_specs=known,
            # A runtime whose unit is a service with replicas (Swarm) says so.
            per_service=bool(getattr(runtime, "plans_per_service", False)),
        ),
        desired=desired.state,
        prune=prune,
        allow_empty=allow_empty,
    )

    # Each app's containers, grouped once: looking them up in the whole list per app made a
    # pass at 1,000 apps a million comparisons (most of a no-op pass's time).
    of_app: dict[str, list[ObservedContainer]] = {}
    for container in observed:
        of_app.setdefault(container.app, []).append(container)
    reports = dict(desired.reports)
    if refused is not None:
        for app in sorted({c.app for c in observed} - set(desired.state.apps)):
            if app not in reports:
                reports[app] = AppReport(
                    app,
                    AppStatus.BLOCKED,
                    message=refused,
                    code="prune_refused",
                    containers=list(of_app.get(app, ())),
                )
    by_app: dict[str, list[Action]] = {}
    for action in the_plan.actions:
        if only_apps is not None and action.app not in only_apps:
            continue
        by_app.setdefault(action.app, []).append(action)

    pull_failures: dict[str, str] = {}
    if resources is not None and not dry_run:
        pull_failures = pull_for_plan(
            resources,
            [a for app, actions in by_app.items() if app not in reports for a in actions],
            workers=workers,
        )

    def run_app(app: str) -> AppReport:
        actions = by_app[app]
        existing = reports.get(app)
        if existing is not None:  # held: invalid or blocked, containers left as they are
            existing.containers = list(of_app.get(app, ()))
            return existing
        changes = [a for a in actions if a.changes_something]
        if dry_run:
            status = AppStatus.PLANNED if changes else AppStatus.UNCHANGED
            return AppReport(app, status, containers=list(of_app.get(app, ())))
        if app in pull_failures:  # nothing of this app is touched: its containers keep running
            return AppReport(
                app,
                AppStatus.FAILED,
                message=pull_failures[app],
                code=ImagePullFailedError.code,
                containers=list(of_app.get(app, ())),
            )
        report = _apply_app(
            app,
            actions,
            runtime=runtime,
            revision=revision.sha,
            listener=listener,
            observed=of_app.get(app, []),
            removed=app not in desired.state.apps,
            stop=stop,
        )
        if on_app_done is not None and changes:
            on_app_done(report)
        return report

    # Only apps with work go to the pool: a pass that keeps everything (the common case, and
    # at 1,000 apps a no-op pass) starts no threads.
    busy = sorted(a for a, actions in by_app.items() if any(x.changes_something for x in actions))
    idle = sorted(set(by_app) - set(busy))
    if workers > 1 and len(busy) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="apply") as pool:
            results = list(pool.map(run_app, busy))
    else:
        results = [run_app(app) for app in busy]
    results += [run_app(app) for app in idle]
    for report in results:
        reports[report.app] = report
    if resources is not None and not dry_run:
        resources.release_networks(
            keep=networks_in_use(desired.state), changed=bool(the_plan.changes)
        )
    return ReconcileResult(
        revision=revision.sha,
        plan=the_plan,
        apps=reports,
        duration_seconds=time.monotonic() - started,
        observed=observed,
        prune_refused=refused,
        left_alone=ownership.notes(),
    )


def redact_health_output(
    observed: list[ObservedContainer], *, desired: DesiredState
) -> list[ObservedContainer]:
    """Health check output is what the container printed, so it may hold a secret value: keep
    it only for a container running exactly the desired spec (whose values are known and are
    redacted); drop it for any other (an older spec may hold a value rotated since)."""
    services = {
        (app.name, service.service): service
        for app in desired.apps.values()
        for service in app.services
    }
    if not any(container.health_output for container in observed):
        return observed  # the common case: nothing to redact, so no lookup to build
    cleaned = []
    for container in observed:
        if container.health_output:
            service = services.get((container.app, container.service))
            known = service is not None and service.spec_hash == container.spec_hash
            output = redact(container.health_output, service) if known and service else ""
            container = dataclasses.replace(container, health_output=output)
        cleaned.append(container)
    return cleaned


def _learn_history(
    observed: list[ObservedContainer],
    *,
    known: MutableMapping[str, Mapping[str, Any]],
    history: SpecHistory | None,
    current: str,
) -> None:
    """Look up, once per revision, the specs of containers started from older revisions, so a
    replacement can say which field changed instead of only that the hash did."""
    if history is None:
        return
    revisions = {c.revision for c in observed if c.spec_hash not in known and c.revision != current}
    for sha in sorted(revisions):
        try:
            known.update(history(sha))
        except Exception:  # noqa: BLE001 - history only improves messages; never fail a pass
            continue


def _apply_app(
    app: str,
    actions: list[Action],
    *,
    runtime: Engine,
    revision: str,
    listener: Listener | None,
    observed: list[ObservedContainer],
    removed: bool,
    stop: threading.Event | None = None,
) -> AppReport:
    """Carry out *app*'s actions in order; *observed* are its containers."""
    containers = {c.name: c for c in observed}
    changed = False
    for action in actions:
        if not action.changes_something:
            continue
        if stop is not None and stop.is_set():
            return AppReport(
                app,
                AppStatus.FAILED,
                message=f"stopped before {action.describe()}; the next pass carries it out",
                code="interrupted",
                containers=sorted(containers.values(), key=lambda c: c.name),
            )
        if listener is not None:
            listener(ActionEvent(EventKind.STARTED, action))
        try:
            result = runtime.apply(action, revision=revision)
        except ActionFailedError as exc:
            left = getattr(exc, "container", None)
            if isinstance(left, ObservedContainer):  # started, but failed its health check
                containers[left.name] = left
            if listener is not None:
                listener(ActionEvent(EventKind.FAILED, action, error=str(exc)))
            return AppReport(
                app,
                AppStatus.FAILED,
                message=f"{action.kind.value} {action.container_name}: {exc}",
                code=exc.code,
                containers=list(containers.values()),
            )
        changed = True
        if action.kind is ActionKind.REMOVE:
            containers.pop(action.container_name, None)
        elif result is not None:
            containers[result.name] = result
        if listener is not None:
            listener(ActionEvent(EventKind.DONE, action, container=result))
    if removed:
        status = AppStatus.REMOVED
    else:
        status = AppStatus.APPLIED if changed else AppStatus.UNCHANGED
    return AppReport(app, status, containers=sorted(containers.values(), key=lambda c: c.name))
