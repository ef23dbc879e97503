"""``/admin/*`` and ``/audit``: seal status, unseal, seal, rotation, rekey and the audit log.

Seal status is public (operators and load balancers need it before they hold a token); every
other route here needs an admin token, and each call is audited (never with the key offered).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from gitberth.api.auth import Admin, Context
from gitberth.api.json_body import openapi_body, read_json_body
from gitberth.core.errors import (
    ConfigError,
    InvalidRequestError,
    RateLimitedError,
    SealedError,
    UnsealError,
)
from gitberth.secrets import seal as seal_setup
from gitberth.secrets.audit import MAX_ENTRIES_PER_READ

router = APIRouter(tags=["admin"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or unknown bearer token"},
    403: {"description": "not an admin token"},
}


class SealStatusBody(BaseModel):
    sealed: bool
    initialized: bool
    threshold: int
    shares: int
    progress: int


class UnsealBody(BaseModel):
    """One unseal key: the base64 master key, or one base64 share from ``gitberth init``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    key: str = Field(json_schema_extra={"maxLength": 512})


class RotationBody(BaseModel):
    term: int
    rewrapped: int
    encryptions: dict[str, int]


class RekeyRequestBody(BaseModel):
    """``POST /admin/rekey``: the new master key's setup; omitted fields keep the current one."""

    model_config = ConfigDict(extra="forbid", strict=True)

    mode: Literal["auto", "shamir"] | None = None
    shares: int | None = Field(default=None, ge=1, le=255)
    threshold: int | None = Field(default=None, ge=1, le=255)


class RekeyBody(BaseModel):
    mode: str
    shares: int
    threshold: int
    term: int
    newShares: list[str] = Field(
        description="shamir: the new shares, shown only in this answer; auto: empty"
    )


class AuditEntryBody(BaseModel):
    id: int
    at: str
    tokenId: str
    action: str
    outcome: str
    name: str | None
    scope: str
    appId: str | None
    keys: list[str]
    valueHmacs: dict[str, str]
    detail: dict[str, str]


class AuditBody(BaseModel):
    entries: list[AuditEntryBody]


async def unseal_body(request: Request) -> UnsealBody:
    return await read_json_body(request, UnsealBody)


@router.get("/admin/seal-status", response_model=SealStatusBody)
def seal_status(context: Context) -> SealStatusBody:
    """Whether the store is sealed, how it is unsealed and how many shares are in (no auth)."""
    return SealStatusBody(**context.seal.status().as_json())


@router.post(
    "/admin/unseal",
    response_model=SealStatusBody,
    responses={
        400: {"description": "a wrong or malformed key; progress is reset"},
        429: {"description": "too many attempts; see Retry-After"},
        **_ERRORS,
    },
    openapi_extra=openapi_body(UnsealBody),
)
def unseal(
    *,
    principal: Admin,
    body: Annotated[UnsealBody, Depends(unseal_body)],
    context: Context,
) -> SealStatusBody:
    """Offer the master key or one share; unseals once the threshold of shares is reached."""
    try:
        status = context.seal.unseal(body.key)
    except (UnsealError, RateLimitedError) as exc:
        context.audit.record(token_id=principal.token_id, action="admin.unseal", outcome=exc.code)
        raise
    outcome = "sealed" if status.sealed else "unsealed"
    context.audit.record(token_id=principal.token_id, action="admin.unseal", outcome=outcome)
    return SealStatusBody(**status.as_json())


@router.post("/admin/seal", response_model=SealStatusBody, responses=_ERRORS)
def seal(principal: Admin, context: Context) -> SealStatusBody:
    """Drop the master key and every derived key from memory until the next unseal."""
    status = context.seal.seal()
    context.audit.record(token_id=principal.token_id, action="admin.seal")
    return SealStatusBody(**status.as_json())


@router.post(
    "/admin/rotate",
    response_model=RotationBody,
    responses={503: {"description": 'the store is sealed: `{"error": "sealed"}`'}, **_ERRORS},
)
def rotate(principal: Admin, context: Context) -> RotationBody:
    """Start a new master key term and rewrap every data key under it."""
    if context.store.sealed:
        raise SealedError()
    result = context.store.rotate()
    context.audit.record(
        token_id=principal.token_id, action="admin.rotate", name=f"term-{result.term}"
    )
    return RotationBody(
        term=result.term,
        rewrapped=result.rewrapped,
        encryptions={str(term): count for term, count in context.store.encryption_counts().items()},
    )


async def rekey_body(request: Request) -> RekeyRequestBody:
    return await read_json_body(request, RekeyRequestBody)


@router.post(
    "/admin/rekey",
    response_model=RekeyBody,
    responses={
        400: {"description": "an impossible split (threshold over shares, ...)"},
        503: {"description": 'the store is sealed: `{"error": "sealed"}`'},
        **_ERRORS,
    },
    openapi_extra=openapi_body(RekeyRequestBody),
)
def rekey(
    *,
    principal: Admin,
    body: Annotated[RekeyRequestBody, Depends(rekey_body)],
    context: Context,
) -> RekeyBody:
    """Replace the master key: a new ``master.key`` (auto) or new shares (shamir), shown once.

    Every term key is rewrapped and a new term starts; the old key or shares unseal nothing.
    """
    if context.store.sealed:
        raise SealedError()
    try:
        result = seal_setup.rekey(
            context.store,
            state=context.db.state,
            mode=body.mode,
            shares=body.shares,
            threshold=body.threshold,
        )
    except ConfigError as exc:
        context.audit.record(token_id=principal.token_id, action="admin.rekey", outcome=exc.code)
        raise InvalidRequestError(str(exc), field="body") from None
    context.seal.forget_progress()
    context.audit.record(
        token_id=principal.token_id,
        action="admin.rekey",
        name=f"term-{result.term}",
        detail={
            "mode": result.mode,
            "shares": str(result.shares),
            "threshold": str(result.threshold),
        },
    )
    return RekeyBody(
        mode=result.mode,
        shares=result.shares,
        threshold=result.threshold,
        term=result.term,
        newShares=[share.encode() for share in result.new_shares],
    )


@router.get("/audit", response_model=AuditBody, responses=_ERRORS)
def audit_log(
    *,
    principal: Admin,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES_PER_READ)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="only entries older than this id")
    ] = None,
) -> AuditBody:
    """The newest audit entries first: who did what to which secret, never a value."""
    entries = context.audit.entries(limit=limit, before=before)
    context.audit.record(token_id=principal.token_id, action="audit.read")
    return AuditBody(entries=[AuditEntryBody.model_validate(e.as_json()) for e in entries])
