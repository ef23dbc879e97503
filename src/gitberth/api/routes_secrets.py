"""``/secrets``: create or replace, list and delete secrets; values go in and never come out.

Every route authenticates, then answers ``503 {"error": "sealed"}`` while the store is sealed,
then validates. An app-scoped deployer token only sees and writes its own app's scoped secrets.
Every call leaves an audit entry; a write's entry commits in the same transaction as the write.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gitberth.api.auth import Context, Unsealed
from gitberth.api.json_body import openapi_body, read_json_body
from gitberth.core.errors import AuthError, SecretNotFoundError
from gitberth.core.field_types import DNS_LABEL_PATTERN, ENV_NAME_PATTERN
from gitberth.secrets.store import SecretInfo, WriteResult
from gitberth.secrets.tokens import Principal
from gitberth.secrets.validation import MAX_VALUE_BYTES

router = APIRouter(tags=["secrets"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid request; `field` names the field or key"},
    401: {"description": "missing or unknown bearer token"},
    403: {"description": "the token's role or app scope does not allow this"},
    503: {"description": 'the store is sealed: `{"error": "sealed"}`'},
}

AppIdQuery = Annotated[
    str | None,
    Query(
        pattern=DNS_LABEL_PATTERN,
        max_length=63,
        description="app name for an app-scoped secret; omit for shared",
    ),
]


class SecretWriteBody(BaseModel):
    """``POST /secrets``: a secret's name, its key/values and optionally the app it is scoped to."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(
        json_schema_extra={"pattern": DNS_LABEL_PATTERN, "maxLength": 63},
        description="DNS label",
    )
    data: dict[str, str] = Field(
        json_schema_extra={
            "minProperties": 1,
            "propertyNames": {"pattern": ENV_NAME_PATTERN},
            "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_BYTES // 4},
        },
        description="KEY: value; keys are env var and file names, values are strings",
    )
    appId: str | None = Field(
        default=None,
        json_schema_extra={"pattern": DNS_LABEL_PATTERN, "maxLength": 63},
        description="app name for an app-scoped secret; omit or null for shared",
    )


class SecretSummary(BaseModel):
    name: str
    appId: str | None
    keys: list[str]


class SecretListItem(SecretSummary):
    updatedAt: str


class SecretList(BaseModel):
    secrets: list[SecretListItem]


async def secret_write_body(request: Request) -> SecretWriteBody:
    return await read_json_body(request, SecretWriteBody)


@router.post(
    "/secrets",
    status_code=201,
    response_model=SecretSummary,
    responses={
        200: {"model": SecretSummary, "description": "replaced an existing secret"},
        201: {"description": "created a new secret"},
        413: {"description": "a value over 64 KiB or a secret over 512 KiB"},
        415: {"description": "the body is not JSON"},
        **_ERRORS,
    },
    openapi_extra=openapi_body(SecretWriteBody),
)
async def put_secret(
    *,
    principal: Unsealed,
    body: Annotated[SecretWriteBody, Depends(secret_write_body)],
    context: Context,
) -> JSONResponse:
    """Create or replace the secret of that name and scope (shared when there is no appId).

    It runs on the event loop: encrypting is quick and the group commit is awaited, so a write
    costs no thread hop (the largest per-request cost after HTTP parsing).
    """
    if not principal.may_use_scope(body.appId):
        await context.audit.record_async(
            token_id=principal.token_id,
            action="secrets.write",
            outcome="forbidden",
            name=body.name,
            app_id=body.appId,
        )
        principal.require_scope(body.appId)

    def audit(result: WriteResult) -> None:
        context.audit.record(
            token_id=principal.token_id,
            action="secrets.create" if result.created else "secrets.replace",
            name=result.info.name,
            app_id=result.info.app_id,
            keys=result.info.keys,
            value_hmacs=result.fingerprints,
        )

    result = await context.store.put_async(
        name=body.name, app_id=body.appId, data=body.data, then=audit
    )
    context.secrets_changed(name=body.name, app_id=body.appId)
    return JSONResponse(
        _summary(result.info).model_dump(), status_code=201 if result.created else 200
    )


@router.get("/secrets", response_model=SecretList, responses=_ERRORS)
def list_secrets(*, principal: Unsealed, context: Context, appId: AppIdQuery = None) -> SecretList:
    """Names and key names only; ``?appId=`` keeps the secrets scoped to that app."""
    if principal.app is not None:
        appId = appId or principal.app
    _require_scope(context, principal, action="secrets.list", name=None, app_id=appId)
    secrets = context.store.list(app_id=appId)
    context.audit.record(token_id=principal.token_id, action="secrets.list", app_id=appId)
    return SecretList(
        secrets=[
            SecretListItem(**_summary(info).model_dump(), updatedAt=info.updated_at)
            for info in secrets
        ]
    )


@router.delete(
    "/secrets/{name}",
    status_code=204,
    response_class=Response,
    responses={404: {"description": '`{"error": "not_found"}`'}, **_ERRORS},
)
def delete_secret(
    *,
    principal: Unsealed,
    context: Context,
    name: Annotated[str, Path(pattern=DNS_LABEL_PATTERN, max_length=63)],
    appId: AppIdQuery = None,
) -> Response:
    """Delete the shared secret *name*, or the one scoped to ``?appId=``.

    An app-scoped token may not delete its app's secret when that would let the app fall back
    to an ungranted shared secret of the same name (403): that would hand the shared values to
    a deploy the token controls.
    """
    _require_scope(context, principal, action="secrets.delete", name=name, app_id=appId)
    if principal.is_confined and name not in principal.shared_secrets:
        if context.store.exists(name=name, app_id=None):
            context.audit.record(
                token_id=principal.token_id,
                action="secrets.delete",
                outcome="forbidden",
                name=name,
                app_id=appId,
            )
            raise AuthError(
                f"deleting it would give app {principal.app} the shared secret {name}, which this "
                "token was not granted",
                forbidden=True,
            )

    def audit(info: SecretInfo) -> None:
        context.audit.record(
            token_id=principal.token_id,
            action="secrets.delete",
            name=name,
            app_id=appId,
            keys=info.keys,
        )

    try:
        context.store.delete(name=name, app_id=appId, then=audit)
    except SecretNotFoundError:
        context.audit.record(
            token_id=principal.token_id,
            action="secrets.delete",
            outcome="not_found",
            name=name,
            app_id=appId,
        )
        raise
    context.secrets_changed(name=name, app_id=appId)
    return Response(status_code=204)


def _require_scope(
    context: Context, principal: Principal, *, action: str, name: str | None, app_id: str | None
) -> None:
    """403 (audited) when an app-scoped token reaches outside its app."""
    try:
        principal.require_scope(app_id)
    except AuthError:
        context.audit.record(
            token_id=principal.token_id,
            action=action,
            outcome="forbidden",
            name=name,
            app_id=app_id,
        )
        raise


def _summary(info: SecretInfo) -> SecretSummary:
    return SecretSummary(name=info.name, appId=info.app_id, keys=list(info.keys))
