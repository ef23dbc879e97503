"""``GET /apps``, ``GET /apps/{name}``, ``GET /events`` and ``GET /metrics``: what the loop knows.

Everything here is read from the loop's :class:`~gitberth.status.StatusStore` (memory, backed
by SQLite) and its metrics registry, so these routes never touch Git or Docker and stay fast
while a pass runs. Every route needs a bearer token, as every route but health does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response

from gitberth.api.auth import Authenticated
from gitberth.loop import Loop
from gitberth.metrics import CONTENT_TYPE
from gitberth.status import MAX_EVENTS


def router(loop: Loop) -> APIRouter:
    """The status routes over *loop* (built per loop, so tests can run several)."""
    routes = APIRouter(tags=["status"])

    @routes.get("/apps")
    def list_apps(principal: Authenticated) -> dict[str, Any]:
        """Every app with its sync state, health, containers (each with its ``createdAt``) and
        last error, plus the loop's own state (source revision, Docker reachability, next
        retry)."""
        return {
            "loop": loop.status.loop().__dict__,
            "apps": [state.to_json() for state in loop.status.apps()],
        }

    @routes.get("/apps/{name}")
    def get_app(name: str, principal: Authenticated) -> dict[str, Any]:
        """One app; 404 when the loop does not know it."""
        state = loop.status.app(name)
        if state is None:
            raise HTTPException(status_code=404)
        return state.to_json()

    @routes.get("/events")
    def list_events(
        principal: Authenticated,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 50,
    ) -> dict[str, Any]:
        """The most recent passes, newest first: trigger, revision, actions, duration, errors."""
        return {"passes": [record.to_json() for record in loop.status.passes(limit=limit)]}

    @routes.get("/metrics", response_class=Response)
    def metrics(principal: Authenticated) -> Response:
        """Prometheus text exposition of the ``gitberth_`` metrics."""
        return Response(content=loop.metrics.render(), media_type=CONTENT_TYPE)

    return routes
