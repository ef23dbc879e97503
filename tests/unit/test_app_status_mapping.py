"""What status says about an app: sync state and error class from a pass's report, health
from the engine's health state, and health check output only when it is safe to show."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import SecretStr

from gitberth.core.manifests import parse_manifest
from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.plan import DesiredState
from gitberth.core.resolve import SecretKeyMaterial, SecretMaterial, resolve_app
from gitberth.core.sync_status import AppHealth, ErrorClass, SyncState, app_standing
from gitberth.reconciler import AppReport, AppStatus, redact_health_output


def container(
    name: str, *, id: str, state: ContainerState = ContainerState.RUNNING
) -> ObservedContainer:
    return ObservedContainer(id, name, "web", "web", "hash", "r" * 40, state, host_port=1234)


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
    state = app_standing(report, revision="abc", previous=None, now=1.0)
    assert state.sync is sync
    assert (state.error.kind.value if state.error else None) == kind


def test_a_stopped_container_makes_the_app_degraded_and_unhealthy() -> None:
    report = AppReport(
        "web",
        AppStatus.UNCHANGED,
        containers=[container("web-1", id="a", state=ContainerState.EXITED)],
    )
    state = app_standing(report, revision="abc", previous=None, now=1.0)
    assert (state.sync, state.health) == (SyncState.DEGRADED, AppHealth.UNHEALTHY)
    assert state.error is not None and state.error.kind is ErrorClass.WAITING


@pytest.mark.parametrize(
    ("healths", "health", "sync"),
    [
        (["healthy", None], AppHealth.HEALTHY, SyncState.SYNCED),
        (["starting", "healthy"], AppHealth.PROGRESSING, SyncState.SYNCED),
        (["unhealthy", "healthy"], AppHealth.UNHEALTHY, SyncState.DEGRADED),
    ],
)
def test_health_comes_from_the_engine_health_state(
    healths: list[str | None], health: AppHealth, sync: SyncState
) -> None:
    containers = [
        dataclasses.replace(container(f"web-{n}", id=str(n)), health=h)
        for n, h in enumerate(healths, start=1)
    ]
    report = AppReport("web", AppStatus.UNCHANGED, containers=containers)
    state = app_standing(report, revision="abc", previous=None, now=1.0)
    assert (state.health, state.sync) == (health, sync)
    if health is AppHealth.UNHEALTHY:
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
