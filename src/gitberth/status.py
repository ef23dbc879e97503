"""What the loop tells people: per-app sync state and health, and a history of passes.

A pass reports per app *what happened* (:class:`gitberth.reconciler.AppReport`); people need
*where things stand*: is the app running what Git says (Synced), about to (OutOfSync,
Progressing), running the old spec because the new one failed (Degraded), or not managed at
all because something must be fixed (Error)? And is the last error one that needs a person
(Stalled) or one the loop will retry by itself (Waiting), as Flux and controller-runtime class
them. :func:`app_state` is that translation, kept pure so it is tested without an engine.

:class:`StatusStore` keeps the latest state of every app, the loop's own health and the recent
passes in the state database (tables ``app_status``, ``loop_state`` and ``pass_events``), so
``gitberth status`` and ``GET /apps`` answer the same after a restart. Messages stored here are
the reconciler's, which never hold secret values.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from gitberth.core.models import ContainerState, ObservedContainer
from gitberth.reconciler import AppReport, AppStatus
from gitberth.state import Database

MAX_EVENTS = 200
"""Passes kept in the database; older ones are dropped as new ones are written."""


class SyncState(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    ERROR = "Error"


class Health(StrEnum):
    HEALTHY = "Healthy"
    PROGRESSING = "Progressing"
    """Running, and a health check has not decided yet (the engine says ``starting``)."""
    UNHEALTHY = "Unhealthy"
    MISSING = "Missing"
    UNKNOWN = "Unknown"


class ErrorClass(StrEnum):
    STALLED = "Stalled"
    """A person must change something (a manifest, a secret, an image); retrying will not help."""
    WAITING = "Waiting"
    """Transient; the loop retries with backoff."""


STALLING_CODES = frozenset(
    {
        "invalid_manifest",
        "unknown_secret",
        "missing_secret_key",
        "unresolvable",
        "sealed",
        "prune_refused",
        "rollout_failed",
        "unhealthy",
        "integrity_error",
    }
)


@dataclass(frozen=True)
class ContainerInfo:
    name: str
    service: str
    state: str
    image: str
    revision: str
    url: str | None
    created_at: str | None = None
    """When the container was created, ISO 8601 UTC to the second (``createdAt`` in JSON): a
    review compares it with the ``updatedAt`` of the secrets the container consumes."""
    health: str | None = None
    """The engine's health state: healthy, unhealthy, starting; None without a health check."""
    volumes: list[str] = field(default_factory=list)
    """Engine names of the app volumes it mounts (``<app>_<name>``), so status shows where an
    app's data lives."""
    tasks: list[dict[str, Any]] = field(default_factory=list)
    """Swarm only: the service's current task per slot (``slot``, ``node``, ``state``,
    ``desiredState``, ``error``); empty on one engine."""

    @classmethod
    def of(cls, container: ObservedContainer) -> ContainerInfo:
        return cls(
            name=container.name,
            service=container.service,
            state=container.state.value,
            image=container.image,
            revision=container.revision,
            url=container.url,
            created_at=iso_second(container.created_at),
            health=container.health,
            volumes=list(container.volumes),
            tasks=[
                {
                    "id": task.id,
                    "slot": task.slot,
                    "node": task.node,
                    "state": task.state,
                    "desiredState": task.desired_state,
                    "error": task.error,
                }
                for task in container.tasks
            ],
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["createdAt"] = data.pop("created_at")
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ContainerInfo:
        """Read :meth:`to_json`; documents stored before ``createdAt`` existed lack it."""
        fields = {k: v for k, v in data.items() if k not in ("createdAt", "created_at")}
        return cls(**fields, created_at=data.get("createdAt"))


def iso_second(epoch: float | None) -> str | None:
    """POSIX seconds as ``2024-05-01T12:00:00Z``, truncated to the second: the engine's list
    call knows no more, so every pass shows the same text for the same container."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class AppError:
    kind: ErrorClass
    code: str
    message: str
    at: float


@dataclass(frozen=True)
class AppState:
    """Where one app stands, as ``GET /apps/{name}`` shows it."""

    name: str
    sync: SyncState
    health: Health
    desired_revision: str | None
    applied_revision: str | None
    containers: tuple[ContainerInfo, ...] = ()
    error: AppError | None = None
    updated_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["containers"] = [c.to_json() for c in self.containers]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AppState:
        error = data.get("error")
        return cls(
            name=str(data["name"]),
            sync=SyncState(data["sync"]),
            health=Health(data["health"]),
            desired_revision=data.get("desired_revision"),
            applied_revision=data.get("applied_revision"),
            containers=tuple(ContainerInfo.from_json(c) for c in data.get("containers") or ()),
            error=None
            if not error
            else AppError(
                kind=ErrorClass(error["kind"]),
                code=str(error["code"]),
                message=str(error["message"]),
                at=float(error["at"]),
            ),
            updated_at=float(data.get("updated_at") or 0.0),
        )


def classify(code: str | None) -> ErrorClass:
    return ErrorClass.STALLED if code in STALLING_CODES else ErrorClass.WAITING


def health_of(containers: Iterable[ContainerInfo]) -> Health:
    """The app's health as the engine reports it: a container that is not running, or whose
    health check fails, makes it Unhealthy; one whose check has not decided, Progressing."""
    listed = list(containers)
    if not listed:
        return Health.MISSING
    if any(c.state != ContainerState.RUNNING.value or c.health == "unhealthy" for c in listed):
        return Health.UNHEALTHY
    if any(c.health == "starting" for c in listed):
        return Health.PROGRESSING
    return Health.HEALTHY


MAX_OUTPUT_CHARS = 300


def last_output(output: str) -> str:
    """`` (last output: ...)`` on one line, clipped; empty when there is none."""
    flat = " ".join(output.split())
    if not flat:
        return ""
    if len(flat) > MAX_OUTPUT_CHARS:
        flat = flat[:MAX_OUTPUT_CHARS] + "…"
    return f" (last output: {flat})"


def app_state(
    report: AppReport,
    *,
    revision: str,
    previous: AppState | None,
    now: float,
) -> AppState:
    """The state of one app after a pass that produced *report* for *revision*."""
    containers = tuple(ContainerInfo.of(c) for c in report.containers)
    health = health_of(containers)
    applied = previous.applied_revision if previous is not None else None
    error: AppError | None = None
    if report.status.is_error:
        code = report.code or report.status.value
        error = AppError(classify(code), code, report.message, now)
        if report.status is AppStatus.FAILED and code in ("rollout_failed", "unhealthy"):
            sync = SyncState.DEGRADED
        elif report.status is AppStatus.FAILED and code == "interrupted":
            sync = SyncState.OUT_OF_SYNC
        else:
            sync = SyncState.ERROR
    elif report.status is AppStatus.PLANNED:
        sync = SyncState.OUT_OF_SYNC
    elif health in (Health.HEALTHY, Health.PROGRESSING) or (
        health is Health.MISSING and not report.containers
    ):
        sync, applied = SyncState.SYNCED, revision
    else:
        sync = SyncState.DEGRADED
        problems = ", ".join(
            f"{c.name} is {c.state.value}"
            if c.state is not ContainerState.RUNNING
            else f"{c.name} is unhealthy" + last_output(c.health_output)
            for c in report.containers
            if c.state is not ContainerState.RUNNING or c.health == "unhealthy"
        )
        code = "not_running" if any(c.state != "running" for c in containers) else "unhealthy"
        error = AppError(ErrorClass.WAITING, code, problems, now)
    return AppState(
        name=report.app,
        sync=sync,
        health=health,
        desired_revision=revision,
        applied_revision=applied,
        containers=containers,
        error=error,
        updated_at=now,
    )


@dataclass(frozen=True)
class ActionRecord:
    kind: str
    app: str
    container: str
    reason: str
    outcome: str
    error: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class PassRecord:
    """One pass, as ``GET /events`` lists it."""

    started_at: float
    duration_seconds: float
    trigger: str
    revision: str | None
    outcome: str
    actions: tuple[ActionRecord, ...] = ()
    errors: tuple[str, ...] = ()
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["actions"] = [asdict(a) for a in self.actions]
        data["errors"] = list(self.errors)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, id: int) -> PassRecord:
        return cls(
            started_at=float(data["started_at"]),
            duration_seconds=float(data["duration_seconds"]),
            trigger=str(data["trigger"]),
            revision=data.get("revision"),
            outcome=str(data["outcome"]),
            actions=tuple(ActionRecord(**a) for a in data.get("actions") or ()),
            errors=tuple(data.get("errors") or ()),
            id=id,
        )


@dataclass
class LoopState:
    """The loop's own health: source, engine, and the revision it works from."""

    source: str = ""
    branch: str = ""
    revision: str | None = None
    """The last revision read completely: what the loop applies."""
    source_error: str | None = None
    docker_reachable: bool = True
    docker_error: str | None = None
    last_pass_at: float | None = None
    last_applied_at: float | None = None
    next_retry_in: float | None = None
    source_id: str = ""
    """This source's ``gitberth.source`` label value."""
    left_alone: list[str] = field(default_factory=list)
    """Containers of other sources (or of none) the last pass saw and left alone, in words."""
    extra: dict[str, Any] = field(default_factory=dict)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS app_status (name TEXT PRIMARY KEY, document TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS loop_state (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "document TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pass_events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "document TEXT NOT NULL)",
)


class StatusStore:
    """App states, loop state and pass history: in memory for the API, in SQLite for restarts.

    Reads are served from memory (loaded once at open), so ``GET /apps`` never waits for the
    database while a pass writes.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        with db.transaction() as connection:
            for statement in _SCHEMA:
                connection.execute(statement)
        with db.reading() as connection:
            rows = connection.execute("SELECT document FROM app_status").fetchall()
            loop_row = connection.execute("SELECT document FROM loop_state").fetchone()
        self._apps = {
            state.name: state for state in (AppState.from_json(json.loads(r[0])) for r in rows)
        }
        self._loop = LoopState(**json.loads(loop_row[0])) if loop_row else LoopState()

    def apps(self) -> list[AppState]:
        with self._lock:
            return sorted(self._apps.values(), key=lambda a: a.name)

    def app(self, name: str) -> AppState | None:
        with self._lock:
            return self._apps.get(name)

    def loop(self) -> LoopState:
        with self._lock:
            return LoopState(**asdict(self._loop))

    def counts(self) -> dict[SyncState, int]:
        with self._lock:
            counts = dict.fromkeys(SyncState, 0)
            for state in self._apps.values():
                counts[state.sync] += 1
            return counts

    def put_apps(self, states: Iterable[AppState], *, removed: Iterable[str] = ()) -> None:
        """Record new states and forget removed apps, in one transaction."""
        new = list(states)
        gone = list(removed)
        with self._lock:
            for state in new:
                self._apps[state.name] = state
            for name in gone:
                self._apps.pop(name, None)
        with self._db.transaction() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO app_status (name, document) VALUES (?, ?)",
                [(s.name, json.dumps(s.to_json())) for s in new],
            )
            connection.executemany("DELETE FROM app_status WHERE name = ?", [(n,) for n in gone])

    def mark_progressing(self, app: str, *, revision: str) -> None:
        """Show an app as Progressing while its actions run (memory only: it lasts seconds)."""
        with self._lock:
            current = self._apps.get(app)
            if current is None:
                current = AppState(app, SyncState.PROGRESSING, Health.UNKNOWN, revision, None)
            self._apps[app] = AppState(
                name=app,
                sync=SyncState.PROGRESSING,
                health=current.health,
                desired_revision=revision,
                applied_revision=current.applied_revision,
                containers=current.containers,
                error=current.error,
                updated_at=time.time(),
            )

    def mark_container(self, app: str, container: str, *, state: str | None) -> None:
        """Show at once what a Docker event says about one container (*state*, or None when
        it is gone), until the pass the event wakes records the whole truth (memory only).

        Status must never claim running, Synced or Healthy while the engine says otherwise,
        and the pass may be waiting for another app's rollout before it can look.
        """
        with self._lock:
            current = self._apps.get(app)
            if current is None or not any(c.name == container for c in current.containers):
                return
            containers = (
                tuple(
                    c if c.name != container else dataclasses.replace(c, state=state)
                    for c in current.containers
                    if c.name != container or state is not None
                )
                if state is not None
                else tuple(c for c in current.containers if c.name != container)
            )
            health = health_of(containers)
            if not containers and current.containers:
                health = Health.MISSING
            sync = current.sync
            if sync is SyncState.SYNCED and health is not Health.HEALTHY:
                sync = SyncState.OUT_OF_SYNC
            self._apps[app] = dataclasses.replace(
                current, sync=sync, health=health, containers=containers, updated_at=time.time()
            )

    def observe_containers(self, app: str, containers: Iterable[ObservedContainer]) -> None:
        """Refresh the containers of an app the pass did not act on (backing off): its sync
        state stays, its containers and health are what the engine listed (memory only)."""
        with self._lock:
            current = self._apps.get(app)
            if current is None:
                return
            infos = tuple(ContainerInfo.of(c) for c in sorted(containers, key=lambda c: c.name))
            health = health_of(infos)
            sync = current.sync
            if sync is SyncState.SYNCED and health is not Health.HEALTHY:
                sync = SyncState.OUT_OF_SYNC
            self._apps[app] = dataclasses.replace(
                current, sync=sync, health=health, containers=infos, updated_at=time.time()
            )

    def put_loop(self, state: LoopState) -> None:
        with self._lock:
            self._loop = LoopState(**asdict(state))
        with self._db.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO loop_state (id, document) VALUES (1, ?)",
                (json.dumps(asdict(state)),),
            )

    def record_pass(self, state: LoopState, record: PassRecord) -> None:
        """The loop's state and the pass's record in one transaction: one fsync per pass."""
        with self._db.transaction():
            self.put_loop(state)
            self.add_pass(record)

    def add_pass(self, record: PassRecord) -> None:
        with self._db.transaction() as connection:
            connection.execute(
                "INSERT INTO pass_events (document) VALUES (?)", (json.dumps(record.to_json()),)
            )
            connection.execute(
                "DELETE FROM pass_events WHERE id <= (SELECT MAX(id) FROM pass_events) - ?",
                (MAX_EVENTS,),
            )

    def passes(self, *, limit: int = 50) -> list[PassRecord]:
        """The most recent passes, newest first."""
        with self._db.reading() as connection:
            rows = connection.execute(
                "SELECT id, document FROM pass_events ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [PassRecord.from_json(json.loads(doc), id=int(i)) for i, doc in rows]
