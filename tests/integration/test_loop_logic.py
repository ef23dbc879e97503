"""The loop's decisions without an engine: rollout order and rollback, sync states, webhook
signatures, URL sanitising, the prune guard."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import pytest
from pydantic import SecretStr

from gitberth.api.routes_hooks import signature_ok
from gitberth.core.errors import RolloutFailedError, UnhealthyError
from gitberth.core.manifests import parse_manifest
from gitberth.core.models import ContainerState, ObservedContainer, ResolvedService
from gitberth.core.plan import Action, ActionKind, DesiredState, Plan
from gitberth.core.resolve import SecretKeyMaterial, SecretMaterial, resolve_app
from gitberth.reconciler import (
    AppReport,
    AppStatus,
    build_desired,
    guard_prune,
    redact_health_output,
)
from gitberth.remote import is_remote, sanitize
from gitberth.runtime.rollout import Condition, create, replace, rollout_timeout, staging_name
from gitberth.source import Revision
from gitberth.status import ErrorClass, Health, SyncState, app_state
from tests.support.gitrepo import app_yaml


def service(extra: str = "") -> ResolvedService:
    revision = Revision("r" * 40, {"apps/web.yaml": app_yaml("web", extra=extra)})
    return build_desired(revision, secrets=_NoSecrets()).state.apps["web"].services[0]


class _NoSecrets:
    def materials(self, keys: object) -> dict[object, object]:
        return {}


def container(
    name: str, *, id: str, state: ContainerState = ContainerState.RUNNING
) -> ObservedContainer:
    return ObservedContainer(id, name, "web", "web", "hash", "r" * 40, state, host_port=1234)


class FakeEngine:
    """Records the calls a rollout makes; *healthy* decides what the new container does."""

    def __init__(self, *, healthy: bool, health: str | None = None, output: str = "") -> None:
        self.healthy = healthy
        self.health = health
        self.output = output
        self.calls: list[str] = []

    def start_container(
        self, service: ResolvedService, *, name: str, revision: str
    ) -> ObservedContainer:
        self.calls.append(f"start {name}")
        return container(name, id="new")

    def condition(self, container_id: str) -> Condition:
        return Condition(
            running=True,
            status="running",
            health=self.health or ("healthy" if self.healthy else "starting"),
            health_output=self.output,
        )

    def stop_container(self, container_id: str) -> None:
        self.calls.append(f"stop {container_id}")

    def restart_container(self, container_id: str) -> None:
        self.calls.append(f"restart {container_id}")

    def remove_container(self, container_id: str, *, name: str) -> None:
        self.calls.append(f"remove {container_id}")

    def rename_container(self, container_id: str, *, name: str) -> None:
        self.calls.append(f"rename {container_id} {name}")

    def last_output(self, container_id: str, *, lines: int) -> list[str]:
        return []


def replace_action(target: ResolvedService) -> Action:
    return Action(
        ActionKind.REPLACE, "web", "web", 1, "web-1", "env", container_id="old", target=target
    )


def test_start_first_starts_the_new_one_before_touching_the_old_one() -> None:
    engine = FakeEngine(healthy=True)
    result = replace(engine, replace_action(service()), revision="r", timeout=1)
    assert engine.calls == ["start web-1-next", "remove old", "rename new web-1"]
    assert result.name == "web-1"


def test_an_unhealthy_start_first_rollout_removes_the_new_one_and_keeps_the_old_one() -> None:
    engine = FakeEngine(healthy=False)
    with pytest.raises(RolloutFailedError, match="health check reports starting after 0.2s"):
        replace(engine, replace_action(service()), revision="r", timeout=0.2)
    assert engine.calls == ["start web-1-next", "remove new"]


def test_a_fixed_host_port_stops_first_and_restarts_the_old_one_on_failure() -> None:
    engine = FakeEngine(healthy=False)
    with pytest.raises(RolloutFailedError, match="stop-first"):
        replace(engine, replace_action(service("hostPort: 8081\n")), revision="r", timeout=0.2)
    assert engine.calls == ["stop old", "start web-1-next", "remove new", "restart old"]


def test_a_staging_name_is_never_a_replica_name() -> None:
    leftover = container(staging_name("web-1"), id="x")
    assert leftover.replica is None


@pytest.mark.parametrize(
    ("report", "sync", "kind"),
    [
        (AppReport("web", AppStatus.UNCHANGED), SyncState.SYNCED, None),
        (AppReport("web", AppStatus.INVALID, code="invalid_manifest"), SyncState.ERROR, "Stalled"),
        (AppReport("web", AppStatus.BLOCKED, code="unknown_secret"), SyncState.ERROR, "Stalled"),
        (AppReport("web", AppStatus.FAILED, code="rollout_failed"), SyncState.DEGRADED, "Stalled"),
        (AppReport("web", AppStatus.FAILED, code="unhealthy"), SyncState.DEGRADED, "Stalled"),
        (AppReport("web", AppStatus.FAILED, code="action_failed"), SyncState.ERROR, "Waiting"),
        (AppReport("web", AppStatus.FAILED, code="interrupted"), SyncState.OUT_OF_SYNC, "Waiting"),
    ],
)
def test_reports_map_to_sync_states_and_error_classes(
    report: AppReport, sync: SyncState, kind: str | None
) -> None:
    state = app_state(report, revision="abc", previous=None, now=1.0)
    assert state.sync is sync
    assert (state.error.kind.value if state.error else None) == kind


def test_a_stopped_container_makes_the_app_degraded_and_unhealthy() -> None:
    report = AppReport(
        "web",
        AppStatus.UNCHANGED,
        containers=[container("web-1", id="a", state=ContainerState.EXITED)],
    )
    state = app_state(report, revision="abc", previous=None, now=1.0)
    assert (state.sync, state.health) == (SyncState.DEGRADED, Health.UNHEALTHY)
    assert state.error is not None and state.error.kind is ErrorClass.WAITING


def test_webhook_signatures_of_the_three_forges() -> None:
    body = b'{"ref": "refs/heads/main"}'
    digest = hmac.new(b"s3", body, hashlib.sha256).hexdigest()
    assert signature_ok(secret="s3", body=body, headers={"x-hub-signature-256": f"sha256={digest}"})
    assert signature_ok(secret="s3", body=body, headers={"x-gitea-signature": digest})
    assert signature_ok(secret="s3", body=body, headers={"x-gitlab-token": "s3"})
    assert not signature_ok(secret="s3", body=body + b" ", headers={"x-gitea-signature": digest})
    assert not signature_ok(secret="s3", body=body, headers={"x-gitlab-token": "s4"})
    assert not signature_ok(secret="s3", body=body, headers={})


def test_credentials_never_survive_in_a_message() -> None:
    text = "fatal: could not read https://bob:hunter2@git.example/x.git and ssh://tok@h/y"
    assert sanitize(text) == "fatal: could not read https://git.example/x.git and ssh://h/y"
    assert is_remote("file:///srv/repo") and is_remote("git@host:org/repo.git")
    assert not is_remote("/srv/repo")


def test_the_prune_guard_refuses_an_empty_revision_unless_opted_in() -> None:
    empty = build_desired(Revision("e" * 40, {}), secrets=_NoSecrets())
    remove = Action(ActionKind.REMOVE, "web", "web", 1, "web-1", "app removed", container_id="a")
    the_plan = Plan("e" * 40, (remove,))
    guarded, reason = guard_prune(the_plan, desired=empty, prune=True, allow_empty=False)
    assert reason is not None and "allowEmpty: true" in reason
    assert [a.kind for a in guarded.actions] == [ActionKind.KEEP]
    allowed, none = guard_prune(the_plan, desired=empty, prune=True, allow_empty=True)
    assert none is None and allowed.actions == (remove,)
    partial, why = guard_prune(the_plan, desired=empty, prune=False, allow_empty=True)
    assert why is not None and [a.kind for a in partial.actions] == [ActionKind.KEEP]


def test_a_fixed_host_port_in_the_ports_list_also_goes_stop_first() -> None:
    engine = FakeEngine(healthy=True)
    text = "name: web\nimage: x\nports: [{container: 8080}, {container: 9090, host: 19090}]\n"
    target = resolve_app(parse_manifest(text, file="apps/web.yaml"), secrets={}).services[0]
    replace(engine, replace_action(target), revision="r", timeout=1)
    assert engine.calls[0] == "stop old"


def test_an_unhealthy_check_rolls_back_at_once_with_its_last_output() -> None:
    engine = FakeEngine(healthy=False, health="unhealthy", output="wget: server returned 404\n")
    with pytest.raises(RolloutFailedError) as caught:
        replace(engine, replace_action(service()), revision="r", timeout=30)
    assert "its health check failed (last output: wget: server returned 404)" in str(caught.value)
    assert engine.calls == ["start web-1-next", "remove new"]


def test_a_check_output_never_carries_a_secret_value() -> None:
    manifest = parse_manifest(
        "name: web\nimage: x\nenvFrom: [db]\nhealthcheck: {command: [check]}\n",
        file="apps/web.yaml",
    )
    material = SecretMaterial(
        "db", None, {"PASSWORD": SecretKeyMaterial(SecretStr("sentinel-hunter2"), "fp")}
    )
    target = resolve_app(manifest, secrets={(None, "db"): material}).services[0]
    engine = FakeEngine(healthy=False, health="unhealthy", output="bad password sentinel-hunter2")
    action = Action(ActionKind.CREATE, "web", "web", 1, "web-1", "new app", target=target)
    with pytest.raises(UnhealthyError) as caught:
        create(engine, action, revision="r", timeout=1)
    assert "sentinel-hunter2" not in str(caught.value)
    assert "<secret db (shared)>" in str(caught.value)
    assert engine.calls == ["start web-1"]  # a new container stays: nothing to roll back to


def test_a_new_container_without_any_health_check_is_not_waited_for() -> None:
    class NoCheck(FakeEngine):
        def condition(self, container_id: str) -> Condition:
            return Condition(running=True, status="running")

    engine = NoCheck(healthy=False)
    action = Action(ActionKind.CREATE, "web", "web", 1, "web-1", "new app", target=service())
    assert create(engine, action, revision="r", timeout=0.01).name == "web-1"


def test_a_replacement_the_engine_already_restarted_is_rolled_back() -> None:
    """With a restart policy a crashing container may be up again when looked at; having been
    restarted at all means it crashed, so the rollout does not take it for healthy."""

    class CrashLoop(FakeEngine):
        def condition(self, container_id: str) -> Condition:
            return Condition(running=True, status="running; last exit code 3", restarts=2)

    engine = CrashLoop(healthy=False)
    with pytest.raises(RolloutFailedError, match=r"restarted it 2 time\(s\).*exit code 3"):
        replace(engine, replace_action(service()), revision="r", timeout=5)
    assert engine.calls == ["start web-1-next", "remove new"]


def test_the_rollout_waits_as_long_as_the_manifest_check_needs() -> None:
    slow = service(
        "healthcheck: {tcp: true, interval: 10s, timeout: 5s, retries: 3, startPeriod: 20s}\n"
    )
    assert rollout_timeout(slow, timeout=30) == 20 + 3 * (10 + 5) + 5
    assert rollout_timeout(service(), timeout=30) == 30


@pytest.mark.parametrize(
    ("healths", "health", "sync"),
    [
        (["healthy", None], Health.HEALTHY, SyncState.SYNCED),
        (["starting", "healthy"], Health.PROGRESSING, SyncState.SYNCED),
        (["unhealthy", "healthy"], Health.UNHEALTHY, SyncState.DEGRADED),
    ],
)
def test_health_comes_from_the_engine_health_state(
    healths: list[str | None], health: Health, sync: SyncState
) -> None:
    containers = [
        dataclasses.replace(container(f"web-{n}", id=str(n)), health=h)
        for n, h in enumerate(healths, start=1)
    ]
    report = AppReport("web", AppStatus.UNCHANGED, containers=containers)
    state = app_state(report, revision="abc", previous=None, now=1.0)
    assert (state.health, state.sync) == (health, sync)
    if health is Health.UNHEALTHY:
        assert state.error is not None and state.error.message == "web-1 is unhealthy"
    assert [c.health for c in state.containers] == healths


def test_health_output_is_kept_only_for_the_desired_spec_and_redacted() -> None:
    manifest = parse_manifest("name: web\nimage: x\nenvFrom: [db]\n", file="apps/web.yaml")
    material = SecretMaterial(
        "db", None, {"PASSWORD": SecretKeyMaterial(SecretStr("sentinel-hunter3"), "fp")}
    )
    app = resolve_app(manifest, secrets={(None, "db"): material})
    state = DesiredState("r", {"web": app})
    said = "login failed for sentinel-hunter3"
    current = dataclasses.replace(
        container("web-1", id="a"), spec_hash=app.services[0].spec_hash, health_output=said
    )
    older = dataclasses.replace(container("web-2", id="b"), health_output=said)
    other = dataclasses.replace(container("x-1", id="c"), app="x", health_output=said)

    cleaned = redact_health_output([current, older, other], desired=state)

    assert [c.health_output for c in cleaned] == [
        "login failed for <secret db (shared)>",
        "",  # an older spec may have held a value rotated since: dropped
        "",  # an app not desired (held or gone): dropped
    ]
