"""FastAPI dependencies for who is calling and whether the store can serve them.

Routes declare what they need and the order is fixed here: authenticate first (401/403), then
the seal check (503), then the body. The dependencies are ``async`` because they are quick (a
token check reads SQLite's reader connection, never waiting for a write): a sync dependency
would cost a thread hop each. ``/deploy`` and any other route that needs secret values
depends on :func:`unsealed_principal` so it answers ``503 {"error": "sealed"}`` the same way.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gitberth.api.context import ServerContext
from gitberth.core.errors import SealedError
from gitberth.secrets.tokens import Principal

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A token from `gitberth token create`, or the server's GITBERTH_TOKEN.",
)


async def get_context(request: Request) -> ServerContext:
    context = request.app.state.context
    assert isinstance(context, ServerContext)
    return context


Context = Annotated[ServerContext, Depends(get_context)]


async def authenticate(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    """The caller; 401 when the bearer token is missing or unknown."""
    return context.tokens.authenticate(credentials.credentials if credentials else None)


Authenticated = Annotated[Principal, Depends(authenticate)]


async def admin_principal(principal: Authenticated) -> Principal:
    """The caller, who must hold an admin token (403 otherwise)."""
    principal.require_admin()
    return principal


Admin = Annotated[Principal, Depends(admin_principal)]


async def unsealed_principal(principal: Authenticated, context: Context) -> Principal:
    """The caller, once the store is unsealed: ``503 {"error": "sealed"}`` otherwise."""
    if context.store.sealed:
        raise SealedError()
    return principal


Unsealed = Annotated[Principal, Depends(unsealed_principal)]
