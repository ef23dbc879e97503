"""Resolution, purely: K8s envFrom precedence, app-scoped over shared, sources named."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import SecretStr

from gitberth.core.errors import SealedError, UnknownSecretError
from gitberth.core.manifests import parse_manifest
from gitberth.core.models import AppManifest
from gitberth.core.resolve import SecretKeyMaterial, SecretMaterial, Secrets, resolve_app
from gitberth.core.resolved import SecretSourced


def secret(name: str, app_id: str | None = None, **keys: str) -> Secrets:
    return {
        (app_id, name): SecretMaterial(
            name=name,
            app_id=app_id,
            keys={
                k: SecretKeyMaterial(SecretStr(v), hashlib.sha256(v.encode()).hexdigest())
                for k, v in keys.items()
            },
        )
    }


def manifest(text: str) -> AppManifest:
    return parse_manifest(text, file="apps/shop.yaml")


SHOP = manifest(
    "name: shop\nenvFrom: [a, b]\nsecretFiles: [fa]\nservices:\n"
    "  - name: web\n    image: x\n    envFrom: [s]\n    secretFiles: [fs]\n    env: {K: inline}\n"
)
STORE: Secrets = {
    **secret("a", K="a", A="a", KB="a"),
    **secret("b", K="b", KB="b"),
    **secret("s", K="s", KS="s"),
    **secret("fa", F="value-fa", ONLY_A="value-fa"),
    **secret("fs", F="value-fs"),
}


def test_env_precedence_is_app_level_in_order_then_service_then_inline() -> None:
    [web] = resolve_app(SHOP, secrets=STORE).services
    values = {k: v.value.get_secret_value() for k, v in web.env.items()}
    assert values == {"K": "inline", "A": "a", "KB": "b", "KS": "s"}
    assert web.env["KB"].origin.describe() == "secret b (shared)"
    assert web.env["K"].origin.describe() == "inline env"


def test_files_app_level_then_service_level_later_wins() -> None:
    [web] = resolve_app(SHOP, secrets=STORE).services
    assert {k: v.value.get_secret_value() for k, v in web.files.items()} == {
        "F": "value-fs",
        "ONLY_A": "value-fa",
    }


def test_an_app_scoped_secret_beats_the_shared_one_for_that_app_only() -> None:
    store = {**STORE, **secret("a", "shop", K="scoped-a", A="scoped")}
    [web] = resolve_app(SHOP, secrets=store).services
    assert web.env["A"].value.get_secret_value() == "scoped"
    assert web.env["A"].origin.describe() == "secret a (app shop)"
    other = manifest("name: other\nimage: x\nenvFrom: [a]\n")
    [service] = resolve_app(other, secrets=store).services
    assert service.env["A"].value.get_secret_value() == "a"


def test_the_description_names_sources_and_never_values() -> None:
    [web] = resolve_app(SHOP, secrets=STORE).services
    described = repr(web.describe()) + repr(web)
    for value in ("value-fa", "value-fs"):
        assert value not in described
    sourced = web.describe()["env"]["KS"]
    assert isinstance(sourced, SecretSourced)
    assert (sourced.secret, sourced.scope, len(sourced.fingerprint)) == ("s", None, 12)
    assert str(sourced).startswith("<secret s (shared) #")


def test_a_secret_value_change_changes_the_hash_and_nothing_else_does() -> None:
    plain = manifest("name: p\nimage: x\nenvFrom: [a]\n")
    first = resolve_app(plain, secrets=STORE).services[0].spec_hash
    assert resolve_app(plain, secrets=STORE).services[0].spec_hash == first
    changed = {**STORE, **secret("a", K="a2", A="a", KB="a")}
    assert resolve_app(plain, secrets=changed).services[0].spec_hash != first
    unrelated = {**STORE, **secret("b", K="zzz")}
    assert resolve_app(plain, secrets=unrelated).services[0].spec_hash == first


def test_unknown_secrets_are_all_named_at_once() -> None:
    with pytest.raises(UnknownSecretError) as caught:
        resolve_app(SHOP, secrets=secret("a", K="1"))
    assert caught.value.missing == ("b", "fa", "fs", "s")


def test_without_a_store_an_app_with_secrets_is_sealed_and_one_without_resolves() -> None:
    with pytest.raises(SealedError):
        resolve_app(SHOP, secrets=None)
    assert resolve_app(manifest("name: p\nimage: x\n"), secrets=None).services
