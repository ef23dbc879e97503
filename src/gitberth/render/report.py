"""The JSON plan report: the contract CI tools read, and the model ``schemas/plan.schema.json``
is generated from (a test fails when that file is stale).

Regenerate the schema with ``gitberth schema plan > schemas/plan.schema.json``.

The report holds names, key names, manifest text and positions. Inline env values appear
because they are in Git already; no field can hold a secret value, since neither the review nor
the server's ``GET /secrets`` ever has one.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gitberth.core.errors import ManifestProblem
from gitberth.core.review import AppReview, Change, ContainerAction, Review, ServiceReview

if TYPE_CHECKING:  # only --server's checks make them, and import them for themselves
    from gitberth.core.review_running import RunningDrift
    from gitberth.core.review_secrets import SecretCheck

SCHEMA_ID = "https://gitberth.dev/schemas/plan.schema.json"


class ExitCode(IntEnum):
    """What ``gitberth plan --base --head`` tells CI."""

    UNCHANGED = 0
    BLOCKED = 1
    """A head manifest is invalid, or (with --server) a referenced secret is unusable."""
    CHANGES = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RevisionOut(_Model):
    ref: str = Field(description="the revision as given on the command line")
    sha: str = Field(description="the commit it resolved to")


class FieldChangeOut(_Model):
    field: Literal[
        "image",
        "command",
        "port",
        "hostPort",
        "replicas",
        "env",
        "envFrom",
        "secretFiles",
        "ports",
        "healthcheck",
        "restart",
        "resources.memory",
        "resources.cpus",
        "resources.pids",
        "labels",
        "user",
        "workingDir",
        "entrypoint",
        "stopSignal",
        "stopGracePeriod",
        "networks",
        "volumes",
        "pull",
        "imagePullSecret",
        "rollout",
    ]
    key: str | None = Field(
        description="env variable (env), secret name (envFrom, secretFiles), label (labels), "
        "network name (networks) or mount path (volumes)"
    )
    before: str | None = Field(description="manifest text at base; null when absent")
    after: str | None = Field(description="manifest text at head; null when absent")
    replaces: bool = Field(description="whether this change alone replaces running containers")
    text: str = Field(description="the change in words, as the text format prints it")


class ContainerOut(_Model):
    name: str
    action: ContainerAction
    reason: str


class ServiceOut(_Model):
    name: str
    change: Change
    fields: list[FieldChangeOut]
    containers: list[ContainerOut]


class ProblemOut(_Model):
    file: str
    line: int | None
    column: int | None
    field: str = Field(description="dotted field path, e.g. services.0.port; empty for YAML")
    message: str
    text: str = Field(description="file:line:column: field: message")


class AppOut(_Model):
    name: str
    change: Change
    file: str | None = Field(description="the manifest's path in the repository")
    services: list[ServiceOut]
    problems: list[ProblemOut]
    containersCreated: int
    containersReplaced: int
    containersRemoved: int


class SummaryOut(_Model):
    appsAdded: int
    appsChanged: int
    appsRemoved: int
    appsRepaired: int
    appsInvalid: int
    appsUnchanged: int
    containersCreated: int
    containersReplaced: int
    containersRemoved: int


class SecretFindingOut(_Model):
    app: str
    service: str | None
    secret: str | None
    severity: Literal["error", "warning"]
    code: str = Field(
        description="unknown_secret, empty_secret, invalid_env_key, overridden_by_inline_env "
        "or shared_key"
    )
    message: str


class SecretUseOut(_Model):
    app: str
    service: str
    secret: str
    mode: Literal["envFrom", "secretFiles"]
    scope: str | None = Field(description="appId of the app-scoped secret used; null: shared")
    keys: list[str] = Field(description="key names only")
    updatedAt: str | None


class ChangedSecretOut(_Model):
    """A secret written after the container started: merging restarts the container with it."""

    secret: str
    scope: str | None = Field(description="appId of the app-scoped secret used; null: shared")
    keys: list[str] = Field(description="the key names that reach the container (never values)")
    updatedAt: str = Field(description="when the secret was last written, per GET /secrets")


class RunningContainerOut(ContainerOut):
    createdAt: str | None = Field(
        description="when the container was created, per GET /apps (ISO 8601 UTC, to the "
        "second); null when the server does not say"
    )
    changedSecrets: list[ChangedSecretOut] = Field(
        description="secrets written at least a second after the container started, whose keys "
        "reach it; each one alone restarts it"
    )


class RunningAppOut(_Model):
    """One app whose running containers differ from head, or that is not in sync."""

    name: str
    sync: str | None = Field(description="Synced, OutOfSync, Progressing, Degraded or Error")
    health: str | None
    appliedRevision: str | None
    error: str | None = Field(description="the server's last error for this app, if any")
    containers: list[RunningContainerOut]
    source: str | None = Field(
        default=None,
        description="the server's source that runs the app; null when the server has one",
    )


class RunningOut(_Model):
    """The comparison of head with what runs, as far as the server's GET /apps shows it."""

    available: bool
    note: str
    apps: list[RunningAppOut] = Field(default_factory=list)


class LiveOut(_Model):
    server: str = Field(description="the server URL, without credentials")
    secretsOk: bool
    findings: list[SecretFindingOut]
    uses: list[SecretUseOut] = Field(description="the secrets each changed service consumes")
    running: RunningOut


class PlanReport(_Model):
    """What merging head into base changes, for a pull-request review."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="gitberth plan report")

    schemaVersion: Literal[1] = 1
    base: RevisionOut
    head: RevisionOut
    outcome: Literal["unchanged", "changes", "blocked"]
    exitCode: int = Field(description="0 unchanged, 2 changes, 1 blocked (invalid or unusable)")
    summary: SummaryOut
    apps: list[AppOut] = Field(description="only apps that differ or are invalid at head")
    baseProblems: list[ProblemOut] = Field(description="manifests already invalid at base")
    live: LiveOut | None = Field(description="present when --server was given")


Outcome = Literal["unchanged", "changes", "blocked"]
_OUTCOME: dict[ExitCode, Outcome] = {
    ExitCode.UNCHANGED: "unchanged",
    ExitCode.CHANGES: "changes",
    ExitCode.BLOCKED: "blocked",
}


def plan_schema() -> dict[str, Any]:
    schema = PlanReport.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def build_report(
    result: Review,
    *,
    base: RevisionOut,
    head: RevisionOut,
    live: LiveOut | None = None,
) -> PlanReport:
    """The JSON report of a review, with the exit code CI acts on."""
    if result.invalid or (live is not None and not live.secretsOk):
        exit_code = ExitCode.BLOCKED
    elif result.changed:
        exit_code = ExitCode.CHANGES
    else:
        exit_code = ExitCode.UNCHANGED
    return PlanReport(
        base=base,
        head=head,
        outcome=_OUTCOME[exit_code],
        exitCode=int(exit_code),
        summary=SummaryOut(
            appsAdded=result.count(Change.ADDED),
            appsChanged=result.count(Change.CHANGED),
            appsRemoved=result.count(Change.REMOVED),
            appsRepaired=result.count(Change.REPAIRED),
            appsInvalid=result.count(Change.INVALID),
            appsUnchanged=result.unchanged,
            containersCreated=len(result.containers(ContainerAction.CREATE)),
            containersReplaced=len(result.containers(ContainerAction.REPLACE)),
            containersRemoved=len(result.containers(ContainerAction.REMOVE)),
        ),
        apps=[_app(app) for app in result.apps],
        baseProblems=[problem_out(p) for p in result.base_problems],
        live=live,
    )


def live_out(check: SecretCheck, *, server: str, apps: set[str], running: RunningOut) -> LiveOut:
    """The server's part of the report; key names are listed only for the *apps* that change."""
    return LiveOut(
        server=server,
        secretsOk=check.ok,
        findings=[
            SecretFindingOut(
                app=f.app,
                service=f.service,
                secret=f.secret,
                severity=f.severity.value,
                code=f.code,
                message=f.message,
            )
            for f in check.findings
        ],
        uses=[
            SecretUseOut(
                app=u.app,
                service=u.service,
                secret=u.secret,
                mode="envFrom" if u.mode == "envFrom" else "secretFiles",
                scope=u.scope,
                keys=list(u.keys),
                updatedAt=u.updated_at,
            )
            for u in check.uses
            if u.app in apps
        ],
        running=running,
    )


def running_out(drifts: tuple[RunningDrift, ...], *, note: str) -> RunningOut:
    return RunningOut(
        available=True,
        note=note,
        apps=[
            RunningAppOut(
                name=d.app,
                sync=d.sync,
                health=d.health,
                appliedRevision=d.applied_revision,
                error=d.error,
                source=d.source or None,
                containers=[
                    RunningContainerOut(
                        name=c.name,
                        action=c.action,
                        reason=c.reason,
                        createdAt=c.created_at,
                        changedSecrets=[
                            ChangedSecretOut(
                                secret=x.secret,
                                scope=x.scope,
                                keys=list(x.keys),
                                updatedAt=x.updated_at,
                            )
                            for x in c.changed_secrets
                        ],
                    )
                    for c in d.containers
                ],
            )
            for d in drifts
        ],
    )


def problem_out(problem: ManifestProblem) -> ProblemOut:
    return ProblemOut(
        file=problem.file,
        line=problem.line,
        column=problem.column,
        field=problem.field,
        message=problem.message,
        text=str(problem),
    )


def _app(app: AppReview) -> AppOut:
    return AppOut(
        name=app.name,
        change=app.change,
        file=app.file,
        services=[_service(s) for s in app.services],
        problems=[problem_out(p) for p in app.problems],
        containersCreated=len(app.containers(ContainerAction.CREATE)),
        containersReplaced=len(app.containers(ContainerAction.REPLACE)),
        containersRemoved=len(app.containers(ContainerAction.REMOVE)),
    )


def _service(service: ServiceReview) -> ServiceOut:
    return ServiceOut(
        name=service.name,
        change=service.change,
        fields=[
            FieldChangeOut.model_validate(
                {
                    "field": f.field,
                    "key": f.key,
                    "before": f.before,
                    "after": f.after,
                    "replaces": f.replaces,
                    "text": f.text,
                }
            )
            for f in service.fields
        ],
        containers=[
            ContainerOut(name=c.name, action=c.action, reason=c.reason) for c in service.containers
        ],
    )


def render_json(report: PlanReport) -> str:
    return report.model_dump_json(indent=2)
