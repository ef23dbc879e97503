"""How the Docker adapter reads its engine's events: which wake a self-heal, which change
status at once, and which are not this source's business."""

from __future__ import annotations

from typing import Any

from gitberth.runtime.base import RuntimeEvent
from gitberth.runtime.docker_events import OwnStops, translate


def docker_event(action: str, *, id: str = "abc", source: str = "mine", **labels: str) -> Any:
    attributes = {"name": "web-1", "gitberth.app": "web", "gitberth.source": source, **labels}
    return {"Action": action, "Actor": {"ID": id, "Attributes": attributes}}


def test_a_death_gitberth_did_not_cause_is_a_crash_shown_as_exited() -> None:
    event = translate(docker_event("die"), source="mine", own_stops=OwnStops())
    assert event == RuntimeEvent(
        reason="docker: web-1 die",
        app="web",
        container="web-1",
        container_id="abc",
        state="exited",
        crashed=True,
    )
    assert event.marks_status


def test_a_container_removed_by_hand_is_gone_but_no_crash() -> None:
    event = translate(docker_event("destroy"), source="mine", own_stops=OwnStops())
    assert event is not None and event.gone and event.marks_status and not event.crashed
    assert event.state is None


def test_gitberth_own_stops_only_wake_a_pass() -> None:
    own = OwnStops()
    own.note("abc")
    for action in ("die", "destroy"):
        event = translate(docker_event(action), source="mine", own_stops=own)
        assert event is not None and not event.crashed and not event.marks_status
    own.running_again("abc")
    again = translate(docker_event("die"), source="mine", own_stops=own)
    assert again is not None and again.crashed


def test_a_pause_shows_paused_and_a_health_change_only_wakes_a_pass() -> None:
    paused = translate(docker_event("pause"), source="mine", own_stops=OwnStops())
    assert paused is not None and paused.state == "paused" and not paused.crashed
    health = translate(docker_event("health_status"), source="mine", own_stops=OwnStops())
    assert health is not None and not health.marks_status and not health.crashed


def test_another_sources_containers_are_ignored_and_old_ones_without_a_source_are_not() -> None:
    assert (
        translate(docker_event("die", source="theirs"), source="mine", own_stops=OwnStops()) is None
    )
    legacy = translate(docker_event("die", source=""), source="mine", own_stops=OwnStops())
    assert legacy is not None and legacy.crashed
