"""``token create``, ``token list`` and ``token revoke``: API tokens, managed on the host.

They work on the state dir directly, not through the API, because the first token must be made
before any server or token exists; tokens are stored hashed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from gitberth.cli._app import app, err_console
from gitberth.cli.options import StateDirOption
from gitberth.core.errors import GitberthError
from gitberth.database import open_database
from gitberth.secrets.tokens import Role, TokenStore, parse_ttl
from gitberth.state import StateDir

if TYPE_CHECKING:
    pass


token_app = typer.Typer(help="Create, list and revoke API tokens (stored hashed in the state dir).")
app.add_typer(token_app, name="token")

CLI_ACTOR = "cli"
"""The audit log's token id for changes made on the host with ``gitberth token``."""


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="admin: everything; deployer: secrets and deploys")],
    app_name: Annotated[
        str | None,
        typer.Option("--app", help="confine a deployer token to this app"),
    ] = None,
    ttl: Annotated[
        str | None,
        typer.Option(help="lifetime, e.g. 30m, 12h, 30d, 2w (default: no expiry)"),
    ] = None,
    shared_secret: Annotated[
        list[str] | None,
        typer.Option(
            "--shared-secret",
            help="a shared secret an --app deployer may deploy with (repeatable)",
        ),
    ] = None,
    state_dir: StateDirOption = None,
) -> None:
    """Print a new bearer token; it is shown once, only its hash is kept."""
    from gitberth.secrets.audit import AuditLog, token_entry

    state = StateDir.resolve(state_dir)
    try:
        lifetime = parse_ttl(ttl) if ttl is not None else None
        db = open_database(state)
        try:
            AuditLog(db)
            info, token = TokenStore(db).issue(
                role=role,
                app=app_name,
                ttl=lifetime,
                shared_secrets=shared_secret or (),
                then=token_entry(actor=CLI_ACTOR, action="token.create"),
            )
        finally:
            db.close()
    except GitberthError as exc:
        err_console.print(f"gitberth token create: {exc}", markup=False)
        raise typer.Exit(1) from exc
    scope = f" for app {info.app}" if info.app else ""
    grants = f" with shared secrets {', '.join(info.shared_secrets)}" if info.shared_secrets else ""
    expiry = f", expires {info.expires_at}" if info.expires_at else ""
    err_console.print(
        f"created {info.role.value} token {info.id}{scope}{grants}{expiry}", markup=False
    )
    typer.echo(token)


@token_app.command("list")
def token_list(
    state_dir: StateDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """Every token: id, role, app, grants, created, expires, last used (never the token)."""
    state = StateDir.resolve(state_dir)
    try:
        db = open_database(state)
        try:
            tokens = TokenStore(db).list()
        finally:
            db.close()
    except GitberthError as exc:
        err_console.print(f"gitberth token list: {exc}", markup=False)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps({"tokens": [info.as_json() for info in tokens]}, indent=2))
        return
    rows = [("ID", "ROLE", "APP", "SHARED SECRETS", "CREATED", "EXPIRES", "LAST USED")]
    rows += [
        (
            info.id,
            info.role.value,
            info.app or "-",
            ",".join(info.shared_secrets) or "-",
            info.created_at,
            info.expires_at or "never",
            info.last_used_at or "never",
        )
        for info in tokens
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo("  ".join(cells).rstrip())


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="the token's id (from token list)")],
    state_dir: StateDirOption = None,
) -> None:
    """Revoke a token: a running server refuses it from its next request on."""
    from gitberth.secrets.audit import AuditLog, token_entry

    state = StateDir.resolve(state_dir)
    try:
        db = open_database(state)
        try:
            AuditLog(db)
            info = TokenStore(db).revoke(
                token_id, then=token_entry(actor=CLI_ACTOR, action="token.revoke")
            )
        finally:
            db.close()
    except GitberthError as exc:
        err_console.print(f"gitberth token revoke: {exc}", markup=False)
        raise typer.Exit(1) from exc
    err_console.print(f"revoked {info.role.value} token {info.id}", markup=False)
