"""The FastAPI application factory: routes, error handling and lifecycle in one place.

``create_app`` takes an already opened :class:`ServerContext` so tests and ``serve`` share the
same construction, and so later features add themselves without editing the secrets code:
pass more routers (``/deploy``, ``/apps``, ``/events``, ``/metrics``, the dashboard) and start
background work (the reconcile loop) from *on_startup*, subscribing to secret changes through
``context.on_secrets_changed``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

import gitberth
from gitberth.api import routes_admin, routes_backup, routes_health, routes_secrets, routes_tokens
from gitberth.api.context import ServerContext, ServerSettings, open_context
from gitberth.api.errors import install_error_handlers
from gitberth.api.security_headers import SecurityHeadersMiddleware

__all__ = ["ServerContext", "ServerSettings", "create_app", "open_context"]

LifecycleHook = Callable[[ServerContext], Awaitable[None]]


def create_app(
    context: ServerContext,
    *,
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[LifecycleHook] = (),
    on_shutdown: Sequence[LifecycleHook] = (),
) -> FastAPI:
    """The API app over *context*; *routers* are added after the built-in ones.

    On shutdown the hooks run first, then the context is closed (keys wiped, database closed).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for hook in on_startup:
            await hook(context)
        try:
            yield
        finally:
            for hook in on_shutdown:
                await hook(context)
            context.close()

    app = FastAPI(
        title="gitberth",
        version=gitberth.__version__,
        description=(
            "Declarative GitOps reconciler for Docker. Secrets are write-only: the API returns "
            "names and key names, never values. Every route but /healthz and "
            "/admin/seal-status needs `authorization: Bearer <token>`."
        ),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = context
    install_error_handlers(app)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: a 500 gets the headers too
    for router in (
        routes_health.router,
        routes_secrets.router,
        routes_admin.router,
        routes_tokens.router,
        routes_backup.router,
        *routers,
    ):
        app.include_router(router)
    return app
