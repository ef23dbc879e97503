"""``GET /apps/{name}/history`` and ``POST /apps/{name}/rollback``: what ran, and going back.

History is read from the state database (:mod:`gitberth.history`), never from Git or Docker, so
it answers while a pass runs. A rollback is a Git commit (:mod:`gitberth.rollback`); the loop
applies it like any commit, and the answer (202) says what it restored, the new commit, the
plan the loop is about to carry out, and that secrets are not rolled back.

Who may do what, as for ``/apps`` and ``/deploy``: any token reads history, but an app-scoped
token sees only its own app (another app is 404, as if it did not exist); a rollback needs an
admin token or a deployer allowed to deploy that app (403 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gitberth.api.auth import Authenticated, Context
from gitberth.api.json_body import openapi_body, read_json_body
from gitberth.core.errors import DeployError, GitberthError
from gitberth.core.field_types import is_dns_label
from gitberth.gitwrite import Author
from gitberth.history import HistoryStore
from gitberth.metrics import OperationsMetrics
from gitberth.rollback import Rollbacker
from gitberth.secrets.tokens import Principal
from gitberth.source_set import RollbackRouter
from gitberth.status import AppLookup

MAX_HISTORY = 500


class RollbackBody(BaseModel):
    """``POST /apps/{name}/rollback``: the revision whose manifest to restore."""

    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, max_length=200, description="a commit sha, tag or rev")


def require_visible(principal: Principal, app: str) -> None:
    """404 for a name no app can have, and for an app-scoped token asking about another app
    (it must not learn that the app exists)."""
    if not is_dns_label(app) or not principal.may_see_app(app):
        raise HTTPException(status_code=404)


def router(
    *,
    history: HistoryStore,
    status: AppLookup,
    rollbacker: Rollbacker | RollbackRouter | DeployError,
    metrics: OperationsMetrics,
) -> APIRouter:
    """The routes over one server's history and rollbacker (or the reason it has none)."""
    routes = APIRouter(tags=["history"])

    @routes.get("/apps/{name}/history")
    def app_history(
        name: str,
        principal: Authenticated,
        limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 50,
    ) -> dict[str, Any]:
        """Revisions applied to the app, newest first: commit author and subject (or the
        token id of an API deploy), outcome and error, each container created, replaced or
        removed with its reason, and the duration. 404 when the app is unknown."""
        require_visible(principal, name)
        entries = history.entries(name, limit=limit)
        if not entries and status.app(name) is None:
            raise HTTPException(status_code=404)
        return {"app": name, "entries": [entry.to_json() for entry in entries]}

    @routes.post(
        "/apps/{name}/rollback",
        status_code=202,
        responses={
            202: {"description": "committed; the loop applies it: {app, restored, revision, plan}"},
            400: {"description": "`app_not_at_revision`: no (valid) manifest of the app there"},
            403: {"description": "a token that may not deploy this app"},
            404: {"description": "`unknown_revision`: not a commit in the branch's history"},
            409: {"description": "`read_only_repo`: open a pull request instead"},
        },
        openapi_extra=openapi_body(RollbackBody),
    )
    async def rollback(
        name: str, request: Request, principal: Authenticated, context: Context
    ) -> JSONResponse:
        """Commit ``apps/<name>.yaml`` as it was at ``to`` on top of the tracked branch."""
        if not is_dns_label(name):
            raise HTTPException(status_code=404)
        principal.require_app(name)
        if isinstance(rollbacker, DeployError):
            raise rollbacker
        body = await read_json_body(request, RollbackBody)
        if principal.is_confined:  # as /deploy: shared secrets only when granted (403)
            target = await anyio.to_thread.run_sync(lambda: rollbacker.target(name, to=body.to))
            scoped = {info.name for info in context.store.list(app_id=name)}
            principal.require_shared_secrets([s for s in target.secrets if s not in scoped])
        author = Author(
            name=f"gitberth token {principal.token_id}",
            email=f"{principal.token_id}@gitberth.invalid",
        )
        try:
            outcome = await anyio.to_thread.run_sync(
                lambda: rollbacker.rollback(name, to=body.to, author=author)
            )
        except GitberthError as exc:
            metrics.rollbacks.labels(outcome=exc.code).inc()
            await context.audit.record_async(
                token_id=principal.token_id, action="rollback", outcome=exc.code, name=name
            )
            raise
        metrics.rollbacks.labels(outcome="committed" if outcome.changed else "unchanged").inc()
        await context.audit.record_async(token_id=principal.token_id, action="rollback", name=name)
        return JSONResponse(outcome.to_json(), status_code=202)

    return routes
