"""``/admin/tokens``: list, create and revoke API tokens (admin only), each change audited.

The same as ``gitberth token list|create|revoke`` on the state dir, for operators who hold an
admin token but not the host. A created token is shown once in the ``201``; listings show its
id, role, app, grants and times, never the token or its hash.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gitberth.api.auth import Admin, Context
from gitberth.api.json_body import openapi_body, read_json_body
from gitberth.core.errors import ConfigError, InvalidRequestError
from gitberth.core.field_types import DNS_LABEL_PATTERN
from gitberth.secrets.audit import token_entry
from gitberth.secrets.tokens import Role, parse_ttl

router = APIRouter(tags=["tokens"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, unknown or expired bearer token"},
    403: {"description": "not an admin token"},
}


class TokenInfoBody(BaseModel):
    id: str
    role: str
    app: str | None
    sharedSecrets: list[str]
    createdAt: str
    expiresAt: str | None
    lastUsedAt: str | None


class TokenListBody(BaseModel):
    tokens: list[TokenInfoBody]


class CreatedTokenBody(TokenInfoBody):
    token: str = Field(description="the bearer token; shown only in this answer")


class TokenCreateBody(BaseModel):
    """``POST /admin/tokens``: what the token may do, and for how long."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["admin", "deployer"]
    app: str | None = Field(
        default=None,
        json_schema_extra={"pattern": DNS_LABEL_PATTERN, "maxLength": 63},
        description="confine a deployer token to this app",
    )
    ttl: str | None = Field(
        default=None,
        json_schema_extra={"pattern": "^[1-9][0-9]{0,6}[smhdw]$"},
        description="lifetime such as 30m, 12h, 30d; omit for a token that does not expire",
    )
    sharedSecrets: list[str] = Field(
        default_factory=list,
        max_length=100,
        json_schema_extra={"items": {"type": "string", "pattern": DNS_LABEL_PATTERN}},
        description="shared secrets an app-scoped deployer may deploy with",
    )


async def token_create_body(request: Request) -> TokenCreateBody:
    return await read_json_body(request, TokenCreateBody)


@router.get("/admin/tokens", response_model=TokenListBody, responses=_ERRORS)
def list_tokens(principal: Admin, context: Context) -> TokenListBody:
    """Every token: id, role, app, grants, created, expires, last used (never the token)."""
    return TokenListBody(
        tokens=[TokenInfoBody.model_validate(info.as_json()) for info in context.tokens.list()]
    )


@router.post(
    "/admin/tokens",
    status_code=201,
    response_model=CreatedTokenBody,
    responses={400: {"description": "invalid role, app, ttl or grant"}, **_ERRORS},
    openapi_extra=openapi_body(TokenCreateBody),
)
def create_token(
    *,
    principal: Admin,
    body: Annotated[TokenCreateBody, Depends(token_create_body)],
    context: Context,
) -> JSONResponse:
    """Create a token; the answer is the only place it is ever shown."""
    try:
        ttl = parse_ttl(body.ttl) if body.ttl is not None else None
        info, token = context.tokens.issue(
            role=Role(body.role),
            app=body.app,
            ttl=ttl,
            shared_secrets=body.sharedSecrets,
            then=token_entry(actor=principal.token_id, action="token.create"),
        )
    except ConfigError as exc:
        raise InvalidRequestError(str(exc), field="body") from None
    return JSONResponse({**info.as_json(), "token": token}, status_code=201)


@router.delete(
    "/admin/tokens/{token_id}",
    status_code=204,
    responses={404: {"description": "no token has that id"}, **_ERRORS},
)
def revoke_token(
    *,
    principal: Admin,
    context: Context,
    token_id: Annotated[str, Path(pattern="^[0-9a-f]{12}$")],
) -> Response:
    """Revoke a token: it is refused (401) from the next request on."""
    context.tokens.revoke(
        token_id, then=token_entry(actor=principal.token_id, action="token.revoke")
    )
    return Response(status_code=204)
