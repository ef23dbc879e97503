"""``GET /admin/backup``: the same encrypted backup as ``gitberth backup``, over HTTP.

For a server whose state dir the operator cannot reach (a container volume, another host). The
passphrase travels in a request header, never in the URL: URLs end up in access logs, proxy
logs and shell history, headers do not. A ``passphrase`` query parameter is refused outright
so a mistake never silently works. The headers are read by hand rather than declared as
parameters so that the schema fuzzers do not spend a scrypt derivation on every generated case.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from gitberth.api.auth import Admin, Context
from gitberth.core.errors import BackupError, ConfigError, InvalidRequestError

router = APIRouter(tags=["admin"])

PASSPHRASE_HEADER = "x-backup-passphrase"
RECIPIENT_HEADER = "x-backup-recipient"
_URL_SECRETS = ("passphrase", "password", "secret", "key")

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the backup: an age-encrypted file (`age -d` or `gitberth restore`)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    400: {"description": "no or a bad passphrase or recipient, or a passphrase in the URL"},
    401: {"description": "missing or unknown bearer token"},
    403: {"description": "not an admin token"},
}


@router.get("/admin/backup", response_class=Response, responses=_RESPONSES)
def backup(
    *,
    principal: Admin,
    context: Context,
    request: Request,
    with_key: Annotated[
        bool,
        Query(
            alias="withKey",
            description="include the master key (then the file alone reads every secret)",
        ),
    ] = False,
) -> Response:
    """Stream an encrypted, consistent backup of the state dir (admin only).

    Protect it with a passphrase in the `x-backup-passphrase` header (at least 12 characters),
    or encrypt it to age public keys in `x-backup-recipient` (`age1...`, comma-separated).
    Restore it with `gitberth restore FILE --state-dir NEW`. The master key is left out unless
    `withKey=true`; the `x-backup-with-key` response header says which.
    """
    from gitberth.backup import Passphrase, Recipients, create_backup

    for name in request.query_params:
        if name.lower() in _URL_SECRETS:
            raise InvalidRequestError(
                f"never put a passphrase in the URL (it is logged): send it in the "
                f"{PASSPHRASE_HEADER} header",
                field=name,
            )
    passphrase = request.headers.get(PASSPHRASE_HEADER)
    recipients = request.headers.get(RECIPIENT_HEADER)
    if (passphrase is None) == (recipients is None):
        raise InvalidRequestError(
            f"give exactly one of the {PASSPHRASE_HEADER} or {RECIPIENT_HEADER} headers",
            field=PASSPHRASE_HEADER,
        )
    try:
        protection = (
            Passphrase(passphrase)
            if passphrase is not None
            else Recipients.parse((recipients or "").split(","))
        )
    except BackupError as exc:
        field = PASSPHRASE_HEADER if passphrase is not None else RECIPIENT_HEADER
        raise InvalidRequestError(str(exc), field=field) from None
    try:
        data, summary = create_backup(context.db.state, protection=protection, with_key=with_key)
    except BackupError as exc:
        raise ConfigError(str(exc)) from None
    context.audit.record(
        token_id=principal.token_id,
        action="admin.backup-with-key" if with_key else "admin.backup",
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        content=data,
        media_type="application/octet-stream",
        headers={
            "content-disposition": f'attachment; filename="gitberth-{stamp}.age"',
            "cache-control": "no-store",
            "x-backup-with-key": "true" if summary.with_key else "false",
            "x-backup-secrets": str(summary.secrets),
        },
    )
