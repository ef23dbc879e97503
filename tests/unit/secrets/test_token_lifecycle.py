"""Tokens can be listed (never the token or its hash), revoked, and made to expire; every
creation and revocation is in the audit log; app-scoped deployers carry their grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gitberth.core.errors import AuthError, ConfigError, TokenNotFoundError
from gitberth.database import Database
from gitberth.secrets.audit import AuditLog, token_entry
from gitberth.secrets.tokens import Role, TokenStore, parse_ttl
from tests.support.waiting import wait_until


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_list_shows_what_a_token_may_do_and_never_the_token(db: Database) -> None:
    tokens = TokenStore(db)
    admin, _ = tokens.create(role=Role.ADMIN)
    scoped, principal = tokens.create(
        role=Role.DEPLOYER, app="web", ttl=timedelta(hours=1), shared_secrets=["db", "db", "cdn"]
    )
    listed = {info.id: info.as_json() for info in tokens.list()}
    row = listed[principal.token_id]
    assert row["role"] == "deployer" and row["app"] == "web"
    assert row["sharedSecrets"] == ["cdn", "db"]
    assert row["expiresAt"] is not None and row["lastUsedAt"] is None
    assert set(row) == {
        "id",
        "role",
        "app",
        "sharedSecrets",
        "createdAt",
        "expiresAt",
        "lastUsedAt",
    }
    shown = repr(listed)
    for token in (admin, scoped):
        assert token.split("_", 2)[2] not in shown


def test_a_revoked_token_is_refused_and_an_unknown_id_is_not_found(db: Database) -> None:
    tokens = TokenStore(db)
    token, principal = tokens.create(role=Role.ADMIN)
    tokens.authenticate(token)
    assert tokens.revoke(principal.token_id).id == principal.token_id
    with pytest.raises(AuthError) as caught:
        tokens.authenticate(token)
    assert caught.value.code == "unauthorized"
    with pytest.raises(TokenNotFoundError):
        tokens.revoke(principal.token_id)


def test_an_expired_token_is_refused_with_its_own_code(db: Database) -> None:
    clock = Clock()
    tokens = TokenStore(db, clock=clock)
    token, _ = tokens.create(role=Role.DEPLOYER, ttl=timedelta(minutes=30))
    clock.now += timedelta(minutes=29)
    tokens.authenticate(token)
    clock.now += timedelta(minutes=1)
    with pytest.raises(AuthError) as caught:
        tokens.authenticate(token)
    assert caught.value.code == "token_expired" and not caught.value.forbidden


def test_last_use_is_recorded_in_the_background(db: Database) -> None:
    tokens = TokenStore(db)
    token, principal = tokens.create(role=Role.ADMIN)
    tokens.authenticate(token)

    def last_used() -> str | None:
        return next(i.last_used_at for i in tokens.list() if i.id == principal.token_id)

    wait_until(lambda: last_used() is not None)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("12h", 43200), ("30d", 2592000), ("2w", 1209600)],
)
def test_ttl_durations(text: str, seconds: int) -> None:
    assert parse_ttl(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0d", "-1d", "1y", "1.5h", "10", "99999999d", "1 d"])
def test_bad_ttls_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_ttl(text)


def test_grants_are_only_for_app_scoped_deployers(db: Database) -> None:
    tokens = TokenStore(db)
    with pytest.raises(ConfigError):
        tokens.create(role=Role.DEPLOYER, shared_secrets=["db"])
    with pytest.raises(ConfigError):
        tokens.create(role=Role.DEPLOYER, app="web", shared_secrets=["../x"])
    token, _ = tokens.create(role=Role.DEPLOYER, app="web", shared_secrets=["db"])
    principal = tokens.authenticate(token)
    principal.require_shared_secrets(["db"])
    with pytest.raises(AuthError) as caught:
        principal.require_shared_secrets(["db", "payments"])
    assert caught.value.forbidden and "payments" in str(caught.value)


def test_creation_and_revocation_are_audited_with_the_actor(db: Database) -> None:
    audit = AuditLog(db)
    tokens = TokenStore(db)
    info, _ = tokens.issue(
        role=Role.DEPLOYER,
        app="web",
        ttl=timedelta(days=1),
        shared_secrets=["db"],
        then=token_entry(actor="env", action="token.create"),
    )
    tokens.revoke(info.id, then=token_entry(actor="cli", action="token.revoke"))
    revoked, created = audit.entries(limit=2)
    assert (created.action, created.token_id, created.name) == ("token.create", "env", info.id)
    assert created.app_id == "web" and created.keys == ("db",)
    assert created.detail == {"role": "deployer", "expiresAt": str(info.expires_at)}
    assert (revoked.action, revoked.token_id, revoked.name) == ("token.revoke", "cli", info.id)
