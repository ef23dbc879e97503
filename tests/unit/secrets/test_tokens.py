"""Bearer tokens: hashed at rest, roles and app scope, the GITBERTH_TOKEN admin."""

from __future__ import annotations

import pytest

from gitberth.core.errors import AuthError, ConfigError
from gitberth.database import Database
from gitberth.secrets.tokens import ENV_TOKEN_ID, Principal, Role, TokenStore
from gitberth.state import StateDir


def test_created_token_authenticates_and_is_stored_hashed(db: Database, state: StateDir) -> None:
    tokens = TokenStore(db)
    token, principal = tokens.create(role=Role.DEPLOYER, app="app1")
    assert tokens.authenticate(token) == principal
    assert principal.app == "app1"
    secret_part = token.split("_", 2)[2]
    for path in state.path.iterdir():
        assert secret_part.encode() not in path.read_bytes()


@pytest.mark.parametrize("bad", [None, "", "gbt_nope_x", "Bearer", "x" * 5000, "gbt__"])
def test_missing_or_unknown_token_is_401(db: Database, bad: str | None) -> None:
    tokens = TokenStore(db)
    tokens.create(role=Role.ADMIN)
    with pytest.raises(AuthError) as caught:
        tokens.authenticate(bad)
    assert not caught.value.forbidden


def test_token_with_right_id_and_wrong_secret_is_refused(db: Database) -> None:
    tokens = TokenStore(db)
    token, _ = tokens.create(role=Role.ADMIN)
    with pytest.raises(AuthError):
        tokens.authenticate(token[:-2] + ("aa" if not token.endswith("aa") else "bb"))


def test_env_token_is_admin(db: Database) -> None:
    tokens = TokenStore(db, env_token="from-the-environment")
    principal = tokens.authenticate("from-the-environment")
    assert principal == Principal(token_id=ENV_TOKEN_ID, role=Role.ADMIN)
    with pytest.raises(AuthError):
        tokens.authenticate("from-the-environmen")


def test_scope_rules() -> None:
    admin = Principal(token_id="a", role=Role.ADMIN)
    deployer = Principal(token_id="d", role=Role.DEPLOYER)
    scoped = Principal(token_id="s", role=Role.DEPLOYER, app="app1")
    admin.require_admin()
    for principal in (deployer, scoped):
        with pytest.raises(AuthError) as caught:
            principal.require_admin()
        assert caught.value.forbidden
    assert deployer.may_use_scope(None) and deployer.may_use_scope("app2")
    assert scoped.may_use_scope("app1")
    assert not scoped.may_use_scope(None) and not scoped.may_use_scope("app2")


def test_only_deployers_with_valid_app_names_are_scoped(db: Database) -> None:
    tokens = TokenStore(db)
    with pytest.raises(ConfigError):
        tokens.create(role=Role.ADMIN, app="app1")
    with pytest.raises(ConfigError):
        tokens.create(role=Role.DEPLOYER, app="../etc")
