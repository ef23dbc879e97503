"""The loop's decisions without an engine: rollout order and rollback, sync states, webhook
signatures, URL sanitising, the prune guard."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from gitberth.api.routes_hooks import signature_ok
from gitberth.core.errors import RolloutFailedError
from gitberth.core.models import ContainerState, ObservedContainer, ResolvedService
from gitberth.core.plan import Action, ActionKind, Plan
from gitberth.reconciler import AppReport, AppStatus, build_desired, guard_prune
from gitberth.remote import is_remote, sanitize
from gitberth.rollout import Condition, replace, staging_name
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

    def __init__(self, *, healthy: bool) -> None:
        self.healthy = healthy
        self.calls: list[str] = []

    def start_container(
        self, service: ResolvedService, *, name: str, revision: str
    ) -> ObservedContainer:
        self.calls.append(f"start {name}")
        return container(name, id="new")

    def condition(self, container_id: str) -> Condition:
        return Condition(
            running=True, status="running", health="healthy" if self.healthy else "starting"
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
    with pytest.raises(RolloutFailedError, match="HEALTHCHECK reports starting after 0.2s"):
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
