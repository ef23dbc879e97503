"""Where each app stands, as ``GET /apps``, ``GET /events`` and ``gitberth status`` show it.

A pass reports per app *what happened* (:class:`~gitberth.core.reports.AppReport`); people
need *where things stand*: is the app running what Git says (Synced), about to (OutOfSync,
Progressing), running the old spec because the new one failed (Degraded), or not managed at
all because something must be fixed (Error)? And is the last error one that needs a person
(Stalled) or one the loop will retry by itself (Waiting)? The error classes say which
(:attr:`gitberth.core.errors.GitberthError.stalls`). :func:`app_standing` is that translation,
pure, so it is tested without an engine.

The models here are the API's response models too: one definition for the server, its
OpenAPI document and the ``plan --server`` client, in camelCase on the wire like the rest of
the API. Python code uses the snake_case attribute names; stored documents of either casing
are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from gitberth.core.errors import stalling_codes
from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.reports import AppReport, AppStatus


class SyncState(StrEnum):
    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    ERROR = "Error"


class AppHealth(StrEnum):
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


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields of a stored document or of
    a newer server are ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    def to_json(self) -> dict[str, Any]:
        """The JSON document (camelCase), as the API sends it and the database keeps it."""
        return self.model_dump(mode="json", by_alias=True)


class TaskInfo(ApiModel):
    """Swarm only: a service's current task in one slot, where it runs and how it stands."""

    id: str
    slot: int | None = None
    node: str = ""
    state: str = ""
    desired_state: str = ""
    error: str = Field("", description="the engine's reason for a failed or rejected task")


class ContainerInfo(ApiModel):
    """One container of an app, as the engine listed it (under Swarm: one service)."""

    name: str
    service: str
    state: str
    image: str = ""
    revision: str = ""
    url: str | None = None
    created_at: str | None = Field(
        None,
        description="when the container was created, ISO 8601 UTC to the second: a review "
        "compares it with the updatedAt of the secrets the container consumes",
    )
    health: str | None = Field(
        None, description="the engine's health state: healthy, unhealthy, starting"
    )
    volumes: list[str] = Field(
        default_factory=list,
        description="engine names of the app volumes it mounts (<app>_<name>)",
    )
    tasks: list[TaskInfo] = Field(
        default_factory=list,
        description="Swarm only: the service's current task per slot; empty on one engine",
    )

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
                TaskInfo(
                    id=task.id,
                    slot=task.slot,
                    node=task.node,
                    state=task.state,
                    desired_state=task.desired_state,
                    error=task.error,
                )
                for task in container.tasks
            ],
        )


class AppError(ApiModel):
    kind: ErrorClass
    code: str
    message: str
    at: float


class AppStanding(ApiModel):
    """Where one app stands, as ``GET /apps/{name}`` shows it."""

    name: str
    source: str = Field("", description="the name of the source whose Git declares the app")
    sync: SyncState
    health: AppHealth
    desired_revision: str | None = None
    applied_revision: str | None = None
    containers: tuple[ContainerInfo, ...] = ()
    error: AppError | None = None
    updated_at: float = 0.0


class SourceStanding(ApiModel):
    """One source's loop: its repository, revision, and the health of its Git and engine.

    The loop updates it in place during a pass (hence not frozen)."""

    model_config = ConfigDict(frozen=False)

    name: str = Field("", description="the source's name (default for serve --repo)")
    source: str = Field("", description="the repository, without credentials")
    branch: str = ""
    revision: str | None = Field(None, description="the last revision read completely")
    source_error: str | None = None
    docker_reachable: bool = True
    docker_error: str | None = None
    last_pass_at: float | None = None
    last_applied_at: float | None = None
    next_retry_in: float | None = None
    source_id: str = Field("", description="this source's gitberth.source label value")
    left_alone: list[str] = Field(
        default_factory=list,
        description="containers of other sources (or of none) the last pass left alone",
    )
    extra: dict[str, Any] = Field(default_factory=dict)


class ActionRecord(ApiModel):
    kind: str
    app: str
    container: str
    reason: str
    outcome: str
    error: str | None = None
    seconds: float | None = None


class PassRecord(ApiModel):
    """One pass of one source's loop, as ``GET /events`` lists it."""

    started_at: float
    duration_seconds: float
    trigger: str
    revision: str | None
    outcome: str
    actions: tuple[ActionRecord, ...] = ()
    errors: tuple[str, ...] = ()
    id: int | None = None
    source: str = Field("", description="the name of the source whose loop ran this pass")


class AppList(ApiModel):
    """``GET /apps``: every source's loop, and every app of every source."""

    sources: list[SourceStanding] = Field(default_factory=list)
    apps: list[AppStanding]


class PassList(ApiModel):
    """``GET /events``: the most recent passes of every source, newest first."""

    passes: list[PassRecord]


def iso_second(epoch: float | None) -> str | None:
    """POSIX seconds as ``2024-05-01T12:00:00Z``, truncated to the second: the engine's list
    call knows no more, so every pass shows the same text for the same container."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_STALLING = stalling_codes()


def classify(code: str | None) -> ErrorClass:
    """Stalled when the error class of *code* stalls (a person must act), else Waiting."""
    return ErrorClass.STALLED if code in _STALLING else ErrorClass.WAITING


def health_of(containers: Iterable[ContainerInfo]) -> AppHealth:
    """The app's health as the engine reports it: a container that is not running, or whose
    health check fails, makes it Unhealthy; one whose check has not decided, Progressing."""
    listed = list(containers)
    if not listed:
        return AppHealth.MISSING
    if any(c.state != ContainerState.RUNNING.value or c.health == "unhealthy" for c in listed):
        return AppHealth.UNHEALTHY
    if any(c.health == "starting" for c in listed):
        return AppHealth.PROGRESSING
    return AppHealth.HEALTHY


MAX_OUTPUT_CHARS = 300


def last_output(output: str) -> str:
    """`` (last output: ...)`` on one line, clipped; empty when there is none."""
    flat = " ".join(output.split())
    if not flat:
        return ""
    if len(flat) > MAX_OUTPUT_CHARS:
        flat = flat[:MAX_OUTPUT_CHARS] + "…"
    return f" (last output: {flat})"


def app_standing(
    report: AppReport,
    *,
    revision: str,
    previous: AppStanding | None,
    now: float,
    source: str = "",
) -> AppStanding:
    """Where one app of *source* stands after a pass that produced *report* for *revision*."""
    containers = tuple(ContainerInfo.of(c) for c in report.containers)
    health = health_of(containers)
    applied = previous.applied_revision if previous is not None else None
    error: AppError | None = None
    if report.status.is_error:
        code = report.code or report.status.value
        error = AppError(kind=classify(code), code=code, message=report.message, at=now)
        if report.status is AppStatus.FAILED and code in ("rollout_failed", "unhealthy"):
            sync = SyncState.DEGRADED
        elif report.status is AppStatus.FAILED and code == "interrupted":
            sync = SyncState.OUT_OF_SYNC
        else:
            sync = SyncState.ERROR
    elif report.status is AppStatus.PLANNED:
        sync = SyncState.OUT_OF_SYNC
    elif health in (AppHealth.HEALTHY, AppHealth.PROGRESSING) or (
        health is AppHealth.MISSING and not report.containers
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
        error = AppError(kind=ErrorClass.WAITING, code=code, message=problems, at=now)
    return AppStanding(
        name=report.app,
        source=source,
        sync=sync,
        health=health,
        desired_revision=revision,
        applied_revision=applied,
        containers=containers,
        error=error,
        updated_at=now,
    )
