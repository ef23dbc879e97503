"""The pure planner: create / replace / remove / keep, each with a reason, deterministic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gitberth.core.manifests import parse_manifest
from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.plan import ActionKind, DesiredState, plan
from gitberth.core.resolve import resolve_app
from gitberth.core.resolved import ResolvedApp, SecretSourced
from tests.support.examples import examples
from tests.unit.fakes import FakeRuntime, container


def resolved(text: str) -> ResolvedApp:
    return resolve_app(parse_manifest(text, file="apps/x.yaml"), secrets={})


def desired(*texts: str, held: dict[str, str] | None = None) -> DesiredState:
    apps = {app.name: app for app in (resolved(t) for t in texts)}
    return DesiredState(revision="rev", apps=apps, held=held or {})


def kinds(actions: tuple[object, ...]) -> list[tuple[str, str, str]]:
    return [(a.kind.value, a.container_name, a.reason) for a in actions]  # type: ignore[attr-defined]


def test_a_new_app_is_created_replica_by_replica() -> None:
    result = plan(desired("name: web\nimage: x\nreplicas: 2\n"), [])
    assert kinds(result.actions) == [
        ("create", "web-1", "new app"),
        ("create", "web-2", "new app"),
    ]


def test_an_up_to_date_container_is_kept() -> None:
    state = desired("name: web\nimage: x\n")
    spec_hash = state.apps["web"].services[0].spec_hash
    result = plan(state, [container("web", "web", "web-1", spec_hash=spec_hash)])
    assert kinds(result.actions) == [("keep", "web-1", "up to date")]
    assert result.is_noop


def test_a_changed_spec_is_replaced_with_the_field_named() -> None:
    old = desired("name: web\nimage: acme/web:1.0\nenv: {GREETING: hi}\n")
    new = desired("name: web\nimage: acme/web:1.1\nenv: {GREETING: hello, NEW: x}\n")
    old_service = old.apps["web"].services[0]
    observed = [container("web", "web", "web-1", spec_hash=old_service.spec_hash)]
    result = plan(new, observed, known_specs={old_service.spec_hash: old_service.describe()})
    assert kinds(result.actions) == [
        (
            "replace",
            "web-1",
            "image acme/web:1.0 -> acme/web:1.1; env GREETING changed; env NEW added",
        )
    ]


def test_an_unknown_previous_spec_still_replaces_and_says_so() -> None:
    result = plan(desired("name: web\nimage: x\n"), [container("web", "web", "web-1")])
    [action] = result.actions
    assert action.kind is ActionKind.REPLACE
    assert "previous spec unknown" in action.reason


def test_a_stopped_container_is_replaced() -> None:
    state = desired("name: web\nimage: x\n")
    spec_hash = state.apps["web"].services[0].spec_hash
    observed = [container("web", "web", "web-1", spec_hash=spec_hash, state=ContainerState.EXITED)]
    assert kinds(plan(state, observed).actions) == [("replace", "web-1", "container is exited")]


def test_removed_apps_services_and_surplus_replicas_are_removed_with_reasons() -> None:
    state = desired("name: shop\nservices:\n  - name: web\n    image: x\n")
    web_hash = state.apps["shop"].services[0].spec_hash
    observed = [
        container("gone", "gone", "gone-1"),
        container("shop", "web", "shop-web-1", spec_hash=web_hash),
        container("shop", "web", "shop-web-3", spec_hash=web_hash),
        container("shop", "db", "shop-db-1"),
        container("shop", "web", "shop-web-next", spec_hash=web_hash),
    ]
    assert kinds(plan(state, observed).actions) == [
        ("remove", "gone-1", "app removed from Git"),
        ("remove", "shop-db-1", "service db removed from app"),
        ("remove", "shop-web-next", "shop-web-next is not a replica name gitberth uses"),
        ("keep", "shop-web-1", "up to date"),
        ("remove", "shop-web-3", "replica 3 no longer desired"),
    ]


def test_held_apps_keep_every_container_even_when_absent_from_desired() -> None:
    state = desired(held={"broken": "invalid manifest (apps/broken.yaml)"})
    result = plan(state, [container("broken", "broken", "broken-1")])
    assert kinds(result.actions) == [
        ("keep", "broken-1", "held: invalid manifest (apps/broken.yaml)")
    ]


def test_the_plan_order_does_not_depend_on_observation_order() -> None:
    state = desired("name: a\nimage: x\nreplicas: 3\n", "name: b\nimage: y\n")
    observed = [container("a", "a", f"a-{n}") for n in (3, 1, 2)] + [container("z", "z", "z-1")]
    assert plan(state, observed).actions == plan(state, list(reversed(observed))).actions


names = st.sampled_from(["a", "b", "c"])
manifests = st.builds(
    lambda name, image, replicas, env: (
        f"name: {name}\nimage: img-{image}\nreplicas: {replicas}\nenv: {{V: '{env}'}}\n"
    ),
    names,
    st.integers(0, 2),
    st.integers(0, 3),
    st.integers(0, 2),
)


def observed_containers() -> st.SearchStrategy[list[ObservedContainer]]:
    one = st.builds(
        lambda app, n, h, state: container(app, app, f"{app}-{n}", spec_hash=f"h{h}", state=state),
        names,
        st.integers(1, 4),
        st.integers(0, 2),
        st.sampled_from([ContainerState.RUNNING, ContainerState.EXITED]),
    )
    return st.lists(one, max_size=8, unique_by=lambda c: c.name)


@settings(max_examples=examples(200), deadline=None)
@given(
    apps=st.lists(manifests, max_size=3, unique_by=lambda t: t.split("\n")[0]),
    observed=observed_containers(),
    held=st.sets(names, max_size=1),
)
def test_applying_a_plan_then_planning_again_yields_only_keeps(
    apps: list[str], observed: list[ObservedContainer], held: set[str]
) -> None:
    texts = [t for t in apps if t.split("\n")[0].removeprefix("name: ") not in held]
    state = desired(*texts, held={name: "held" for name in held})
    runtime = FakeRuntime(observed)

    for action in plan(state, runtime.observe()).changes:
        runtime.apply(action, revision="rev")

    again = plan(state, runtime.observe())
    assert again.is_noop, kinds(again.changes)


def test_a_secret_sourced_change_names_its_secret_and_scope_never_the_value() -> None:
    from gitberth.core.plan import describe_changes

    old = {"env": {"TOKEN": SecretSourced("api-creds", None, "aaaa"), "MODE": "x"}}
    new = {"env": {"TOKEN": SecretSourced("api-creds", "web", "bbbb"), "MODE": "y"}}
    assert describe_changes(old, new) == [
        "env MODE changed",
        "env TOKEN changed (now from secret api-creds, app web)",
    ]


def test_an_inline_value_that_looks_like_a_secret_origin_is_only_inline() -> None:
    """Origins are typed: inline text spelled like a rendered origin names no secret."""
    from gitberth.core.plan import describe_changes

    old = {"env": {"TOKEN": "x"}}
    new = {"env": {"TOKEN": "<secret api-creds (shared) #aaaa>"}}
    assert describe_changes(old, new) == ["env TOKEN changed"]
