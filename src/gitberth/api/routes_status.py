"""``GET /apps``, ``GET /apps/{name}``, ``GET /events`` and ``GET /metrics``: what the loop knows.

Everything here is read from each source loop's :class:`~gitberth.status.StatusStore` (memory,
backed by SQLite) and the server's metrics registry, so these routes never touch Git or Docker
and stay fast while a pass runs. Every route needs a bearer token, as every route but health does.

An app-scoped token sees its own app only: ``/apps`` lists just that app, another app is 404
(as if it did not exist), ``/events`` keeps only the passes that acted on or failed for it
(with only its actions and errors), and ``/metrics``, whose series are server-wide, is 403.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from gitberth.api.app_list import AppListCache
from gitberth.api.auth import Authenticated
from gitberth.core.errors import AppNameClashError, AuthError
from gitberth.core.sync_status import AppList, AppStanding, PassList, PassRecord
from gitberth.metrics import CONTENT_TYPE
from gitberth.source_set import SourceSet
from gitberth.status import MAX_EVENTS


def router(sources: SourceSet) -> APIRouter:
    """The status routes over every source of a serve (built per server, so tests can run
    several)."""
    routes = APIRouter(tags=["status"])
    every_app = AppListCache(lambda: [source.loop.status for source in sources])

    @routes.get("/apps", response_model=AppList)
    async def list_apps(principal: Authenticated) -> AppList | Response:
        """Every app of every source with its source, sync state, health, containers (each
        with its ``createdAt``) and last error, plus each source's loop state (revision, source
        error, Docker reachability, next retry)."""
        # On the event loop: the kept body costs microseconds (a few milliseconds when status
        # changed), less than the hop to a worker thread, whose wake-up competes for the GIL
        # with the loop's apply threads while it converges.
        if not principal.is_confined:  # the common case, polled by dashboards: kept as JSON
            return Response(content=every_app.body(), media_type="application/json")
        return AppList(
            sources=sources.loops(),
            apps=[state for state in sources.apps() if principal.may_see_app(state.name)],
        )

    @routes.get(
        "/apps/{name}",
        response_model=AppStanding,
        responses={
            404: {"description": "no source knows the app"},
            409: {"description": "`app_name_clash`: two sources declare it; pass ?source="},
        },
    )
    def get_app(
        name: str,
        principal: Authenticated,
        source: Annotated[str | None, Query(description="the source, when two declare it")] = None,
    ) -> AppStanding:
        """One app; 404 when no source knows it, 409 ``app_name_clash`` when two sources
        declare it and ``source`` does not say which."""
        states = sources.states_of(name) if principal.may_see_app(name) else []
        if source is not None:
            states = [s for s in states if s.source == source]
        if not states:
            raise HTTPException(status_code=404)
        if len(states) > 1:
            names = ", ".join(s.source for s in states)
            raise AppNameClashError(
                f"app {name} is declared by sources {names}; ask with ?source=NAME"
            )
        return states[0]

    @routes.get("/events", response_model=PassList)
    def list_events(
        principal: Authenticated,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 50,
    ) -> PassList:
        """The most recent passes of every source, newest first: source, trigger, revision,
        actions, duration, errors."""
        records = sources.passes(limit=limit)
        if principal.app is not None:
            records = [r for r in (_only_app(r, principal.app) for r in records) if r is not None]
        return PassList(passes=records)

    @routes.get("/metrics", response_class=Response)
    def metrics(principal: Authenticated) -> Response:
        """Prometheus text exposition of the ``gitberth_`` metrics, every loop series labelled
        with its ``source`` (not for app-scoped tokens: the series cover every app)."""
        if principal.is_confined:
            raise AuthError(
                "metrics cover every app; an app-scoped token may not read them", forbidden=True
            )
        return Response(content=sources.metrics.render(), media_type=CONTENT_TYPE)

    return routes


def _only_app(record: PassRecord, app: str) -> PassRecord | None:
    """*record* with only *app*'s actions and errors, or None when the pass did not touch it."""
    actions = tuple(action for action in record.actions if action.app == app)
    errors = tuple(error for error in record.errors if error.startswith(f"{app}: "))
    if not actions and not errors:
        return None
    return record.model_copy(update={"actions": actions, "errors": errors})
