"""Head against what a server runs, for a reviewer.

``compare_running(head, running, secrets=...)`` compares head with the server's ``GET /apps``
listing, including the consumers a secret written since they started will restart: it compares
the secret's ``updatedAt`` with the container's ``createdAt``, both as the server reported them.
Pure, like the review: the listing carries no spec hash and no value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gitberth.core.manifests import LoadResult
from gitberth.core.models import AppManifest, ServiceSpec
from gitberth.core.resolve import missing_secrets, pick_secret
from gitberth.core.review import ChangedSecret, ContainerAction, ContainerChange
from gitberth.core.review_fields import unique_names
from gitberth.core.review_secrets import ListedSecret
from gitberth.core.timestamps import parse_zoned


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
    source: str = ""
    """The server source that runs the app; empty when the server has one source only."""


@dataclass(frozen=True)
class RunningDrift:
    """How head differs from what runs for one app, as far as the server's listing shows."""

    app: str
    sync: str | None
    health: str | None
    applied_revision: str | None
    error: str | None
    containers: tuple[ContainerChange, ...]
    source: str = ""
    """As :attr:`RunningApp.source`: named when the server has several sources."""


def compare_running(
    head: LoadResult, running: Iterable[RunningApp], *, secrets: Iterable[ListedSecret] = ()
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
                source=current.source if current else "",
            )
        )
    return tuple(drifts)


def _running_changes(
    manifest: AppManifest | None,
    current: RunningApp | None,
    by_key: Mapping[tuple[str | None, str], ListedSecret],
) -> tuple[ContainerChange, ...]:
    running = {c.name: c for c in current.containers} if current else {}
    desired = {
        spec.container_name(n): spec
        for spec in (manifest.service_specs() if manifest else ())
        for n in range(1, spec.replicas + 1)
    }
    blocked = manifest is not None and bool(missing_secrets(manifest, by_key))
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
    by_key: Mapping[tuple[str | None, str], ListedSecret],
) -> tuple[ChangedSecret, ...]:
    """The secrets of *spec* written since a container created at *created_at* started.

    Only keys that reach the container count, as :func:`gitberth.core.resolve.resolve_service`
    decides: for env, the last ``envFrom`` secret providing a key wins unless inline env sets
    it; for files, the last ``secretFiles`` secret. Times compare to the second, since the
    engine lists creation times in whole seconds: a secret written in the second the container
    started is not named (the container may or may not have it).
    """
    started = parse_zoned(created_at)
    if started is None:
        return ()
    started = float(int(started))
    env_owner: dict[str, str] = {}
    for name in spec.env_from:
        info = pick_secret(spec.app, name, by_key)
        env_owner.update(dict.fromkeys(info.keys if info else (), name))
    for key in dict(spec.env):
        env_owner.pop(key, None)
    file_owner: dict[str, str] = {}
    for name in spec.secret_files:
        info = pick_secret(spec.app, name, by_key)
        file_owner.update(dict.fromkeys(info.keys if info else (), name))
    winners: dict[str, set[str]] = {}
    for key, name in (*env_owner.items(), *file_owner.items()):
        winners.setdefault(name, set()).add(key)
    changed: list[ChangedSecret] = []
    for name in unique_names((*spec.env_from, *spec.secret_files)):
        info = pick_secret(spec.app, name, by_key)
        if info is None or info.updated_at is None or name not in winners:
            continue
        updated = parse_zoned(info.updated_at)
        if updated is None or updated < started + 1:
            continue
        changed.append(
            ChangedSecret(name, info.app_id, tuple(sorted(winners[name])), info.updated_at)
        )
    return tuple(changed)
