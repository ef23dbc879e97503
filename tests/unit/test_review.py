"""The pure review: what merging a manifest change adds, removes, replaces, and why."""

from __future__ import annotations

from gitberth.core.manifests import LoadResult, load_manifests, parse_manifest
from gitberth.core.plan import ActionKind, DesiredState, plan
from gitberth.core.resolve import resolve_app
from gitberth.core.review import Change, ContainerAction, Review, review
from gitberth.core.review_running import RunningApp, RunningContainer, compare_running
from gitberth.core.review_secrets import ListedSecret, Severity, check_secrets
from tests.unit.fakes import container

WEB = """\
name: web
image: acme/web:1.0
port: 8080
env:
  LOG_LEVEL: info
"""

SHOP = """\
name: shop
envFrom: [shared-creds]
services:
  - name: api
    image: acme/api:1.0
    port: 3000
    replicas: 2
    envFrom: [api-creds]
  - name: worker
    image: acme/worker:1.0
    command: [worker, --queue, default]
"""


def load(**manifests: str) -> LoadResult:
    return load_manifests({f"apps/{name}.yaml": text for name, text in manifests.items()})


def containers(result: Review, action: ContainerAction) -> dict[str, str]:
    return {c.name: c.reason for c in result.containers(action)}


def test_identical_revisions_review_as_unchanged() -> None:
    result = review(load(web=WEB, shop=SHOP), load(web=WEB, shop=SHOP))

    assert result.apps == ()
    assert result.unchanged == 2
    assert not result.changed
    assert not result.invalid


def test_an_image_bump_replaces_every_replica_and_says_which_image() -> None:
    head = SHOP.replace("acme/api:1.0", "acme/api:1.1")

    result = review(load(shop=SHOP), load(shop=head))

    (app,) = result.apps
    assert app.change is Change.CHANGED
    assert app.file == "apps/shop.yaml"
    (service,) = app.services
    assert service.name == "api"
    assert [f.text for f in service.fields] == ["image acme/api:1.0 -> acme/api:1.1"]
    assert (service.fields[0].before, service.fields[0].after) == ("acme/api:1.0", "acme/api:1.1")
    assert containers(result, ContainerAction.REPLACE) == {
        "shop-api-1": "image acme/api:1.0 -> acme/api:1.1",
        "shop-api-2": "image acme/api:1.0 -> acme/api:1.1",
    }
    assert result.changed


def test_inline_env_changes_show_keys_and_values() -> None:
    head = WEB.replace("LOG_LEVEL: info", "LOG_LEVEL: debug\n  GREETING: hi")
    result = review(load(web=WEB), load(web=head))

    texts = [f.text for f in result.apps[0].services[0].fields]
    assert texts == ["env GREETING added: hi", "env LOG_LEVEL changed: info -> debug"]
    assert list(containers(result, ContainerAction.REPLACE)) == ["web-1"]

    removed = review(load(web=WEB), load(web=WEB.replace("env:\n  LOG_LEVEL: info\n", "")))
    assert [f.text for f in removed.apps[0].services[0].fields] == [
        "env LOG_LEVEL removed (was: info)"
    ]


def test_port_host_port_and_command_wording_matches_the_live_plan() -> None:
    head = WEB.replace("port: 8080", "port: 9090\nhostPort: 18080\ncommand: [serve, --fast]")
    result = review(load(web=WEB), load(web=head))

    texts = [f.text for f in result.apps[0].services[0].fields]
    assert texts == [
        "command (none) -> serve --fast",
        "port 8080 -> 9090",
        "hostPort (none) -> 18080",
    ]
    assert sorted(live_replace_reason(WEB, head).split("; ")) == sorted(texts)


def live_replace_reason(base: str, head: str) -> str:
    """The reason the planner gives for replacing a container of *base* to run *head*."""
    old = resolve_app(parse_manifest(base, file="apps/web.yaml"), secrets={})
    new = resolve_app(parse_manifest(head, file="apps/web.yaml"), secrets={})
    (running,) = old.services
    observed = [container("web", "web", "web-1", spec_hash=running.spec_hash)]
    state = DesiredState(revision="head", apps={"web": new}, held={})
    (action,) = plan(state, observed, known_specs={running.spec_hash: running.describe()}).changes
    assert action.kind is ActionKind.REPLACE
    return action.reason


def test_scaling_creates_or_removes_only_the_surplus_replicas() -> None:
    up = review(load(shop=SHOP), load(shop=SHOP.replace("replicas: 2", "replicas: 4")))
    assert containers(up, ContainerAction.CREATE) == {
        "shop-api-3": "replicas 2 -> 4",
        "shop-api-4": "replicas 2 -> 4",
    }
    assert containers(up, ContainerAction.REPLACE) == {}

    down = review(load(shop=SHOP), load(shop=SHOP.replace("replicas: 2", "replicas: 1")))
    assert containers(down, ContainerAction.REMOVE) == {"shop-api-2": "replicas 2 -> 1"}
    assert containers(down, ContainerAction.REPLACE) == {}
    (field,) = down.apps[0].services[0].fields
    assert (field.field, field.replaces) == ("replicas", False)


def test_scaling_with_a_new_image_replaces_the_kept_replicas_and_creates_the_rest() -> None:
    head = SHOP.replace("replicas: 2", "replicas: 3").replace("api:1.0", "api:2.0")
    result = review(load(shop=SHOP), load(shop=head))

    assert list(containers(result, ContainerAction.REPLACE)) == ["shop-api-1", "shop-api-2"]
    assert list(containers(result, ContainerAction.CREATE)) == ["shop-api-3"]


def test_app_level_secret_reference_restarts_every_service() -> None:
    head = SHOP.replace("envFrom: [shared-creds]", "envFrom: [shared-creds, mail]")
    result = review(load(shop=SHOP), load(shop=head))

    assert containers(result, ContainerAction.REPLACE) == {
        "shop-api-1": "envFrom mail added",
        "shop-api-2": "envFrom mail added",
        "shop-worker-1": "envFrom mail added",
    }


def test_secret_files_added_and_removed_are_secret_reference_changes() -> None:
    base = WEB + "secretFiles: [old-tls]\n"
    head = WEB + "secretFiles: [new-tls]\n"
    result = review(load(web=base), load(web=head))

    fields = result.apps[0].services[0].fields
    assert [(f.field, f.key, f.text) for f in fields] == [
        ("secretFiles", "new-tls", "secretFiles new-tls added"),
        ("secretFiles", "old-tls", "secretFiles old-tls removed"),
    ]
    assert all(f.replaces for f in fields)


def test_reordering_secret_references_is_reported_but_not_a_certain_restart() -> None:
    base = WEB + "envFrom: [a, b]\n"
    head = WEB + "envFrom: [b, a]\n"
    result = review(load(web=base), load(web=head))

    (field,) = result.apps[0].services[0].fields
    assert field.text.startswith("envFrom order a, b -> b, a")
    assert not field.replaces
    assert result.containers(ContainerAction.REPLACE) == ()
    assert result.changed


def test_added_and_removed_apps_and_services_name_every_container() -> None:
    head_shop = SHOP.replace(
        "  - name: worker\n    image: acme/worker:1.0\n    command: [worker, --queue, default]\n",
        "  - name: cron\n    image: acme/cron:1.0\n",
    )
    result = review(
        load(web=WEB, shop=SHOP), load(shop=head_shop, hello=WEB.replace("web", "hello"))
    )

    changes = {app.name: app.change for app in result.apps}
    assert changes == {"hello": Change.ADDED, "shop": Change.CHANGED, "web": Change.REMOVED}
    assert containers(result, ContainerAction.CREATE) == {
        "hello-1": "new app",
        "shop-cron-1": "new service",
    }
    assert containers(result, ContainerAction.REMOVE) == {
        "shop-worker-1": "service removed",
        "web-1": "app removed",
    }
    added = next(app for app in result.apps if app.name == "hello")
    assert [f.text for f in added.services[0].fields][:2] == [
        "image acme/hello:1.0",
        "port 8080",
    ]


def test_going_from_single_to_multi_service_swaps_container_names() -> None:
    head = "name: web\nservices:\n  - name: front\n    image: acme/web:1.0\n    port: 8080\n"
    result = review(load(web=WEB), load(web=head))

    assert list(containers(result, ContainerAction.CREATE)) == ["web-front-1"]
    assert list(containers(result, ContainerAction.REMOVE)) == ["web-1"]


def test_an_invalid_head_manifest_is_held_and_reported_with_its_position() -> None:
    broken = WEB.replace("port: 8080", "port: eighty")
    result = review(load(web=WEB), load(web=broken))

    (app,) = result.apps
    assert app.change is Change.INVALID
    assert app.services == ()
    assert [str(p) for p in result.problems] == [
        "apps/web.yaml:3:7: port: Input should be a valid integer"
    ]
    assert result.invalid
    assert not result.changed


def test_an_app_repaired_at_head_replaces_what_an_older_revision_started() -> None:
    result = review(load(web=WEB.replace("port: 8080", "port: x")), load(web=WEB))

    (app,) = result.apps
    assert app.change is Change.REPAIRED
    assert list(containers(result, ContainerAction.REPLACE)) == ["web-1"]
    assert len(result.base_problems) == 1


def test_zero_replicas_means_no_containers_even_when_fields_change() -> None:
    base = WEB + "replicas: 0\n"
    head = base.replace("acme/web:1.0", "acme/web:2.0")
    result = review(load(web=base), load(web=head))

    assert result.apps[0].services[0].containers == ()
    assert result.changed


# --- secrets, as a server lists them ---------------------------------------------------------


def test_check_secrets_prefers_the_app_scoped_secret_and_lists_key_names() -> None:
    head = load(shop=SHOP)
    secrets = [
        ListedSecret("shared-creds", None, ("DATABASE_URL",), "2026-01-01T00:00:00Z"),
        ListedSecret("shared-creds", "shop", ("DATABASE_URL", "REPLICA_URL")),
        ListedSecret("api-creds", None, ("API_KEY",)),
    ]
    check = check_secrets(head, secrets)

    assert check.ok
    assert check.findings == ()
    api_shared = next(u for u in check.uses if u.service == "api" and u.secret == "shared-creds")
    assert (api_shared.scope, api_shared.keys) == ("shop", ("DATABASE_URL", "REPLICA_URL"))


def test_check_secrets_reports_missing_empty_and_unusable_secrets() -> None:
    head = load(shop=SHOP, web=WEB + "envFrom: [web-creds, more]\n")
    secrets = [
        ListedSecret("api-creds", "other-app", ("API_KEY",)),  # scoped to another app: no use
        ListedSecret("web-creds", None, ("LOG_LEVEL", "tls.crt", "TOKEN")),
        ListedSecret("more", None, ("TOKEN",)),
        ListedSecret("shared-creds", None, ()),
    ]
    check = check_secrets(head, secrets)

    assert not check.ok
    found = {(f.app, f.secret, f.code, f.severity) for f in check.findings}
    assert found == {
        ("shop", "api-creds", "unknown_secret", Severity.ERROR),
        ("shop", "shared-creds", "empty_secret", Severity.ERROR),
        ("web", "web-creds", "invalid_env_key", Severity.ERROR),
        ("web", "web-creds", "overridden_by_inline_env", Severity.WARNING),
        ("web", "more", "shared_key", Severity.WARNING),
    }


def test_check_secrets_can_be_limited_to_the_changed_apps() -> None:
    check = check_secrets(load(shop=SHOP, web=WEB + "envFrom: [x]\n"), [], apps=["web"])

    assert {f.app for f in check.findings} == {"web"}


# --- what runs on the server -------------------------------------------------------------------


def running(name: str, *containers: tuple[str, str, str], sync: str = "Synced") -> RunningApp:
    """An app as GET /apps lists it; containers are (name, image, state)."""
    return RunningApp(
        name=name,
        sync=sync,
        health="Healthy",
        applied_revision="c" * 40,
        error=None if sync == "Synced" else "rollout_failed: new container unhealthy",
        containers=tuple(
            RunningContainer(n, n.rsplit("-", 1)[0], state, image, "c" * 40)
            for n, image, state in containers
        ),
    )


def test_compare_running_lists_only_what_differs_from_head() -> None:
    head = load(web=WEB, shop=SHOP.replace("replicas: 2", "replicas: 1"))
    result = compare_running(
        head,
        [
            running("web", ("web-1", "acme/web:1.0", "running")),  # in sync: not listed
            running(
                "shop",
                ("shop-api-1", "acme/api:0.9", "running"),
                ("shop-api-2", "acme/api:1.0", "running"),
                ("shop-worker-1", "acme/worker:1.0", "exited"),
                sync="Degraded",
            ),
            running("gone", ("gone-1", "acme/gone:1", "running")),
        ],
    )

    assert [d.app for d in result] == ["gone", "shop"]
    gone, shop = result
    assert [(c.name, c.action, c.reason) for c in gone.containers] == [
        ("gone-1", ContainerAction.REMOVE, "app not in head")
    ]
    assert [(c.name, c.action, c.reason) for c in shop.containers] == [
        ("shop-api-1", ContainerAction.REPLACE, "runs image acme/api:0.9, head wants acme/api:1.0"),
        ("shop-worker-1", ContainerAction.REPLACE, "container is exited"),
        ("shop-api-2", ContainerAction.REMOVE, "not desired at head"),
    ]
    assert (shop.sync, shop.error) == ("Degraded", "rollout_failed: new container unhealthy")


def test_compare_running_creates_what_is_not_running_and_skips_held_apps() -> None:
    head = load(web=WEB, broken="name: broken\nimage: x\nport: nope\n")
    result = compare_running(head, [running("broken", ("broken-1", "x", "running"))])

    assert [(d.app, [(c.name, c.action) for c in d.containers]) for d in result] == [
        ("web", [("web-1", ContainerAction.CREATE)])
    ]


# --- restarts a secret written since a container started will cause ---------------------------

STARTED = "2024-05-01T12:00:00Z"
LATER = "2024-05-01T12:00:05.250Z"


def started(name: str, *names: str, created_at: str | None = STARTED) -> RunningApp:
    """An app in sync whose containers run head's images and started at *created_at*."""
    images = {"web": "acme/web:1.0", "shop-api": "acme/api:1.0", "shop-worker": "acme/worker:1.0"}
    return RunningApp(
        name=name,
        sync="Synced",
        health="Healthy",
        applied_revision="c" * 40,
        error=None,
        containers=tuple(
            RunningContainer(n, n.rsplit("-", 1)[0], "running", images[n.rsplit("-", 1)[0]],
                             "c" * 40, created_at)
            for n in names
        ),
    )  # fmt: skip


def secret(name: str, *keys: str, at: str, app: str | None = None) -> ListedSecret:
    return ListedSecret(name, app, keys, at)


def restarts(head: LoadResult, apps: list[RunningApp], secrets: list[ListedSecret]) -> dict:
    return {
        c.name: c.reason
        for drift in compare_running(head, apps, secrets=secrets)
        for c in drift.containers
        if c.action is ContainerAction.REPLACE
    }


SHOP_APPS = [started("shop", "shop-api-1", "shop-api-2", "shop-worker-1")]


def test_a_secret_written_since_consumers_started_restarts_each_of_them() -> None:
    head = load(shop=SHOP)
    secrets = [
        secret("shared-creds", "DATABASE_URL", at=LATER),  # app-level: every service
        secret("api-creds", "API_KEY", at="2024-05-01T11:00:00.000Z"),  # older: no restart
    ]

    drifts = compare_running(head, SHOP_APPS, secrets=secrets)

    reason = "secret shared-creds (shared) changed since it started (keys DATABASE_URL)"
    assert restarts(head, SHOP_APPS, secrets) == {
        "shop-api-1": reason,
        "shop-api-2": reason,
        "shop-worker-1": reason,
    }
    (change, *_) = drifts[0].containers
    assert change.created_at == STARTED
    assert [(s.secret, s.scope, s.keys, s.updated_at) for s in change.changed_secrets] == [
        ("shared-creds", None, ("DATABASE_URL",), LATER)
    ]


def test_per_service_references_and_secret_files_restart_only_their_service() -> None:
    head = load(shop=SHOP.replace("envFrom: [shared-creds]\n", "").replace(
        "    command:", "    secretFiles: [tls]\n    command:"
    ))  # fmt: skip
    secrets = [secret("api-creds", "API_KEY", at=LATER), secret("tls", "CERT", "KEY", at=LATER)]

    assert restarts(head, SHOP_APPS, secrets) == {
        "shop-api-1": "secret api-creds (shared) changed since it started (keys API_KEY)",
        "shop-api-2": "secret api-creds (shared) changed since it started (keys API_KEY)",
        "shop-worker-1": "secret tls (shared) changed since it started (keys CERT, KEY)",
    }


def test_the_app_scoped_secret_is_the_one_compared() -> None:
    head = load(shop=SHOP)
    old = "2024-05-01T11:00:00.000Z"
    scoped_is_older = [
        secret("shared-creds", "DATABASE_URL", at=old, app="shop"),
        secret("shared-creds", "DATABASE_URL", at=LATER),
        secret("api-creds", "API_KEY", at=old),
    ]
    scoped_is_newer = [
        secret("shared-creds", "DATABASE_URL", at=LATER, app="shop"),
        secret("shared-creds", "DATABASE_URL", at=old),
        secret("api-creds", "API_KEY", at=old),
    ]

    assert restarts(head, SHOP_APPS, scoped_is_older) == {}
    assert restarts(head, SHOP_APPS, scoped_is_newer)["shop-worker-1"] == (
        "secret shared-creds (app shop) changed since it started (keys DATABASE_URL)"
    )


def test_keys_that_never_reach_the_container_restart_nothing() -> None:
    web = WEB + "envFrom: [base, override]\n"
    head = load(web=web)
    apps = [started("web", "web-1")]
    old = "2024-05-01T11:00:00.000Z"

    # LOG_LEVEL is inline env (wins over every secret); A is overridden by the later secret.
    shadowed = [secret("base", "LOG_LEVEL", "A", at=LATER), secret("override", "A", at=old)]
    assert restarts(head, apps, shadowed) == {}
    # Only the keys that reach the container are named.
    partly = [secret("base", "LOG_LEVEL", "A", "B", at=LATER), secret("override", "A", at=old)]
    assert restarts(head, apps, partly) == {
        "web-1": "secret base (shared) changed since it started (keys B)"
    }


def test_times_compare_to_the_second_the_engine_lists() -> None:
    head = load(web=WEB + "envFrom: [creds]\n")
    apps = [started("web", "web-1")]

    # Same second as the (truncated) start: the container may already have it.
    assert restarts(head, apps, [secret("creds", "K", at="2024-05-01T12:00:00.999Z")]) == {}
    assert restarts(head, apps, [secret("creds", "K", at="2024-05-01T12:00:01.000Z")]) != {}
    assert restarts(head, apps, [secret("creds", "K", at="2024-05-01T13:00:00.5+01:00")]) == {}


def test_no_start_time_no_known_update_or_a_blocked_app_names_no_secret() -> None:
    head = load(web=WEB + "envFrom: [creds, missing]\n", shop=SHOP)
    undated = [started("shop", "shop-api-1", created_at=None)]
    secrets = [secret("creds", "K", at=LATER), secret("shared-creds", "K", at=LATER)]

    assert restarts(head, undated, secrets) == {}
    assert restarts(head, SHOP_APPS, [ListedSecret("shared-creds", None, ("K",))]) == {}
    # web references a secret that exists nowhere: the reconciler holds it, nothing restarts.
    assert restarts(head, [started("web", "web-1")], secrets) == {}


def test_an_image_change_and_a_secret_change_are_both_named() -> None:
    head = load(web=WEB.replace("acme/web:1.0", "acme/web:2.0") + "envFrom: [creds]\n")

    assert restarts(head, [started("web", "web-1")], [secret("creds", "K", at=LATER)]) == {
        "web-1": "runs image acme/web:1.0, head wants acme/web:2.0; "
        "secret creds (shared) changed since it started (keys K)"
    }
