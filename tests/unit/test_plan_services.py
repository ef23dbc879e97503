"""The planner's per-service mode (the Swarm runtime's unit): one slot per service, replicas
compared, a scale an update in place, stopped tasks no reason (the orchestrator restarts them)."""

from __future__ import annotations

import dataclasses

from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.plan import plan
from tests.unit.fakes import container
from tests.unit.test_plan import desired, kinds


def service(app: str, name: str, *, spec_hash: str, replicas: int = 1) -> ObservedContainer:
    observed = container(app, name, name if name == app else f"{app}-{name}", spec_hash=spec_hash)
    return dataclasses.replace(observed, replicas=replicas)


def hash_of(state: object, app: str, index: int = 0) -> str:
    return state.apps[app].services[index].spec_hash  # type: ignore[attr-defined,no-any-return]


def test_a_new_app_is_one_create_per_service_whatever_its_replicas() -> None:
    result = plan(desired("name: web\nimage: x\nreplicas: 3\n"), [], per_service=True)
    assert kinds(result.actions) == [("create", "web", "new app; 3 replicas")]
    [action] = result.actions
    assert action.replica is None and action.target is not None


def test_services_of_a_multi_service_app_are_named_like_the_container_prefix() -> None:
    text = "name: shop\nservices:\n  - {name: web, image: x}\n  - {name: db, image: y}\n"
    result = plan(desired(text), [], per_service=True)
    assert [a.container_name for a in result.actions] == ["shop-db", "shop-web"]


def test_an_up_to_date_service_is_kept_even_while_its_tasks_restart() -> None:
    state = desired("name: web\nimage: x\nreplicas: 2\n")
    observed = dataclasses.replace(
        service("web", "web", spec_hash=hash_of(state, "web"), replicas=2),
        state=ContainerState.RESTARTING,
    )
    assert plan(state, [observed], per_service=True).is_noop


def test_a_scale_is_an_update_of_the_service_naming_the_replicas() -> None:
    state = desired("name: web\nimage: x\nreplicas: 3\n")
    observed = service("web", "web", spec_hash=hash_of(state, "web"), replicas=1)
    result = plan(state, [observed], per_service=True)
    assert kinds(result.actions) == [("replace", "web", "replicas 1 -> 3")]
    assert result.actions[0].container_id == observed.id


def test_a_spec_change_and_a_scale_together_say_both() -> None:
    old = desired("name: web\nimage: acme/web:1.0\n")
    new = desired("name: web\nimage: acme/web:1.1\nreplicas: 2\n")
    previous = old.apps["web"].services[0]
    observed = service("web", "web", spec_hash=previous.spec_hash)
    result = plan(
        new, [observed], known_specs={previous.spec_hash: previous.describe()}, per_service=True
    )
    assert kinds(result.actions) == [
        ("replace", "web", "image acme/web:1.0 -> acme/web:1.1; replicas 1 -> 2")
    ]


def test_a_removed_service_and_a_removed_app_are_removed() -> None:
    state = desired("name: shop\nservices:\n  - {name: web, image: x}\n")
    web = service("shop", "web", spec_hash=hash_of(state, "shop"))
    result = plan(
        state,
        [web, service("shop", "old", spec_hash="h"), service("gone", "gone", spec_hash="h")],
        per_service=True,
    )
    assert kinds(result.changes) == [
        ("remove", "gone", "app removed from Git"),
        ("remove", "shop-old", "service old removed from app"),
    ]


def test_a_container_named_like_a_replica_is_not_a_service_name() -> None:
    state = desired("name: web\nimage: x\n")
    stray = dataclasses.replace(
        container("web", "web", "web-1", spec_hash=hash_of(state, "web")), replicas=1
    )
    result = plan(state, [stray], per_service=True)
    assert sorted(kinds(result.changes)) == [
        ("create", "web", "new service"),
        ("remove", "web-1", "web-1 is not a name gitberth uses"),
    ]


def test_held_apps_are_kept_as_they_are() -> None:
    observed = service("web", "web", spec_hash="old", replicas=5)
    result = plan(desired(held={"web": "sealed"}), [observed], per_service=True)
    assert kinds(result.actions) == [("keep", "web", "held: sealed")]


def test_a_service_with_secret_files_names_the_secret_versions_it_creates() -> None:
    from pydantic import SecretStr

    from gitberth.core.plan import DesiredState
    from gitberth.core.resolved import (
        EnvSource,
        Origin,
        ResolvedApp,
        ResolvedService,
        ResolvedValue,
    )
    from gitberth.core.secret_versions import file_version

    base = desired("name: api\nimage: x\n").apps["api"].services[0]

    def with_value(fingerprint: str) -> DesiredState:
        value = ResolvedValue(
            SecretStr("never shown"), Origin(EnvSource.SECRET, "tls", None), fingerprint
        )
        service = ResolvedService(
            spec=base.spec, env={}, files={"KEY": value}, spec_hash=f"hash-{fingerprint}"
        )
        return DesiredState(revision="r", apps={"api": ResolvedApp("api", (service,))})

    one, two = with_value("fp-one"), with_value("fp-two")
    [created] = plan(one, [], per_service=True).actions
    first = file_version("api", "KEY", one.apps["api"].services[0].files["KEY"])
    assert created.reason == f"new app; secret version {first}"
    previous = one.apps["api"].services[0]
    [updated] = plan(
        two,
        [service("api", "api", spec_hash=previous.spec_hash)],
        known_specs={previous.spec_hash: previous.describe()},
        per_service=True,
    ).actions
    second = file_version("api", "KEY", two.apps["api"].services[0].files["KEY"])
    assert second != first and first.startswith("api-tls-")
    assert updated.reason == (
        f"file KEY changed (from secret tls, shared); secret version {second}"
    )
    assert "never shown" not in created.reason + updated.reason
