"""The review of a change tells the truth: reviewing base -> head names exactly the containers
that planning head creates, replaces and removes after base was applied, secrets included.

Random pairs of revisions (images, replicas, commands, ports, inline env, envFrom and
secretFiles references to shared and app-scoped secrets) are applied to the fake runtime of the
planner tests. The review sees names only; the planner sees resolved values. Secrets here have
key names of their own and inline env never shadows one, the two cases where only values could
tell (and where the review says so instead of guessing).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gitberth.core.manifests import LoadResult, load_manifests
from gitberth.core.plan import ActionKind, DesiredState, plan
from gitberth.core.resolve import Secrets, resolve_app
from gitberth.core.review import ContainerAction, review
from tests.support.examples import examples
from tests.unit.fakes import FakeRuntime
from tests.unit.test_resolve import secret

SECRETS: Secrets = {
    **secret("db", DB_URL="shared-url"),
    **secret("db", "web", DB_URL="web-url"),  # web's own db beats the shared one
    **secret("api-key", API_KEY="key", API_SALT="salt"),
    **secret("tls", CERT="cert", KEY="key"),
}
SECRET_NAMES = ["db", "api-key", "tls"]

images = st.sampled_from(["acme/app:1.0", "acme/app:2.0"])
references = st.lists(st.sampled_from(SECRET_NAMES), max_size=3, unique=True)


@st.composite
def service_fields(draw: st.DrawFn, *, indent: str) -> str:
    lines = [f"image: {draw(images)}", f"replicas: {draw(st.integers(1, 3))}"]
    if draw(st.booleans()):
        lines.append(f"command: [serve, --mode, {draw(st.sampled_from(['fast', 'safe']))}]")
    if draw(st.booleans()):
        lines.append(f"port: {draw(st.sampled_from([8080, 9090]))}")
    env = draw(st.dictionaries(st.sampled_from(["MODE", "LEVEL"]), st.sampled_from("ab")))
    if env:
        lines.append("env: {" + ", ".join(f"{k}: {v}" for k, v in sorted(env.items())) + "}")
    for field in ("envFrom", "secretFiles"):
        names = draw(references)
        if names:
            lines.append(f"{field}: [{', '.join(names)}]")
    return "".join(f"{indent}{line}\n" for line in lines)


@st.composite
def revisions(draw: st.DrawFn) -> dict[str, str]:
    """apps/web.yaml (one service) and apps/shop.yaml (services api and worker), each optional."""
    files: dict[str, str] = {}
    if draw(st.booleans()):
        files["apps/web.yaml"] = "name: web\n" + draw(service_fields(indent=""))
    services = draw(st.lists(st.sampled_from(["api", "worker"]), min_size=1, unique=True))
    if draw(st.booleans()):
        shared = draw(references)
        text = "name: shop\n" + (f"envFrom: [{', '.join(shared)}]\n" if shared else "")
        text += "services:\n" + "".join(
            f"  - name: {name}\n" + draw(service_fields(indent="    ")) for name in services
        )
        files["apps/shop.yaml"] = text
    return files


def desired(loaded: LoadResult, revision: str) -> DesiredState:
    apps = {name: resolve_app(app, secrets=SECRETS) for name, app in loaded.apps.items()}
    return DesiredState(revision=revision, apps=apps, held={})


PLAN_TO_REVIEW = {
    ActionKind.CREATE: ContainerAction.CREATE,
    ActionKind.REPLACE: ContainerAction.REPLACE,
    ActionKind.REMOVE: ContainerAction.REMOVE,
}


@settings(max_examples=examples(100), deadline=None)
@given(base_files=revisions(), head_files=revisions())
def test_the_review_names_what_the_plan_does_after_base_is_applied(
    base_files: dict[str, str], head_files: dict[str, str]
) -> None:
    base, head = load_manifests(base_files), load_manifests(head_files)
    assert not base.all_problems and not head.all_problems

    runtime = FakeRuntime()
    base_state = desired(base, "base")
    for action in plan(base_state, runtime.observe()).changes:
        runtime.apply(action, revision="base")
    known = {s.spec_hash: s.describe() for app in base_state.apps.values() for s in app.services}
    planned = plan(desired(head, "head"), runtime.observe(), known_specs=known)

    reviewed = review(base, head)
    by_plan = {(PLAN_TO_REVIEW[a.kind], a.container_name) for a in planned.changes}
    by_review = {
        (action, change.name)
        for action in ContainerAction
        for change in reviewed.containers(action)
    }
    assert by_review == by_plan
