"""The rollout sequence without an engine: start-first and stop-first order, rollback on a
failed or crashing new container, how long a rollout waits, and no secret value in its errors."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from gitberth.core.errors import RolloutFailedError, UnhealthyError
from gitberth.core.manifests import parse_manifest
from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.plan import Action, ActionKind
from gitberth.core.resolve import SecretKeyMaterial, SecretMaterial, resolve_app
from gitberth.core.resolved import ResolvedService
from gitberth.reconciler import build_desired
from gitberth.runtime.rollout import Condition, create, replace, rollout_timeout, staging_name
from gitberth.source import Revision
from tests.support.gitrepo import app_yaml


def service(extra: str = "") -> ResolvedService:
    revision = Revision("r" * 40, {"apps/web.yaml": app_yaml("web", extra=extra)})
    return build_desired(revision, secrets=_NoSecrets()).state.apps["web"].services[0]


class _NoSecrets:
    def materials(self, keys: object) -> dict[object, object]:
        return {}


def container(
    name: str, *, id: str, state: ContainerState = ContainerState.RUNNING, health: str | None = None
) -> ObservedContainer:
    return ObservedContainer(
        id, name, "web", "web", "hash", "r" * 40, state, host_port=1234, health=health
    )


class FakeEngine:
    """Records the calls a rollout makes; *healthy* decides what the new container does."""

    def __init__(
        self, *, healthy: bool, health: str | None = None, output: str = "", checked: bool = True
    ) -> None:
        self.healthy = healthy
        self.checked = checked  # False: the container has no health check at all
        self.health = health
        self.output = output
        self.calls: list[str] = []
        self.looks = 0

    def start_container(
        self, service: ResolvedService, *, name: str, revision: str
    ) -> ObservedContainer:
        self.calls.append(f"start {name}")
        return container(name, id="new", health="starting" if self.checked else None)

    def condition(self, container_id: str) -> Condition:
        self.looks += 1
        return Condition(
            running=True,
            status="running",
            health=(self.health or ("healthy" if self.healthy else "starting"))
            if self.checked
            else None,
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


def test_a_healthy_replacement_is_looked_at_once_and_keeps_the_health_it_showed() -> None:
    engine = FakeEngine(healthy=True)
    result = replace(engine, replace_action(service()), revision="r", timeout=1)
    assert engine.looks == 1  # no inspect after the gate: it is on the rollout's critical path
    assert result.health == "healthy"


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
    engine = FakeEngine(healthy=False, checked=False)
    action = Action(ActionKind.CREATE, "web", "web", 1, "web-1", "new app", target=service())
    assert create(engine, action, revision="r", timeout=0.01).name == "web-1"
    assert engine.looks == 0  # the start's own report said so


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
