"""When a container was created, from the engine to ``GET /apps``: the review compares it with
the time a secret was written, so it must survive every hop, to the second."""

from __future__ import annotations

import json

from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.sync_status import AppHealth, AppStanding, ContainerInfo, SyncState
from gitberth.runtime.docker_observed import created_epoch, observed_from_attrs, observed_from_row

LABELS = {
    "gitberth.app": "web",
    "gitberth.service": "web",
    "gitberth.spec-hash": "h",
    "gitberth.revision": "c" * 40,
}
EPOCH = 1714564800  # 2024-05-01T12:00:00Z


def test_the_engine_gives_whole_seconds_in_lists_and_nanoseconds_in_inspect() -> None:
    assert created_epoch(EPOCH) == EPOCH
    assert created_epoch("2024-05-01T12:00:00.123456789Z") == EPOCH + 0.123456789
    assert created_epoch("2024-05-01T14:00:00+02:00") == EPOCH
    for odd in (None, "", "yesterday", True, "2024-13-01T00:00:00Z"):
        assert created_epoch(odd) is None


def test_list_rows_and_inspect_documents_carry_the_creation_time() -> None:
    row = {"Id": "a" * 64, "Names": ["/web-1"], "Labels": LABELS, "State": "running"}
    attrs = {
        "Id": "a" * 64,
        "Name": "/web-1",
        "Config": {"Labels": LABELS, "Image": "x"},
        "State": {"Status": "running"},
    }

    assert observed_from_row({**row, "Created": EPOCH}).created_at == EPOCH
    assert observed_from_row(row).created_at is None
    assert observed_from_attrs({**attrs, "Created": "2024-05-01T12:00:00.9Z"}).created_at == (
        EPOCH + 0.9
    )


def test_get_apps_shows_created_at_in_utc_to_the_second_and_reads_old_documents() -> None:
    container = ObservedContainer(
        id="a", name="web-1", app="web", service="web", spec_hash="h", revision="c",
        state=ContainerState.RUNNING, created_at=EPOCH + 0.9,
    )  # fmt: skip
    info = ContainerInfo.of(container)
    state = AppStanding(
        name="web",
        sync=SyncState.SYNCED,
        health=AppHealth.HEALTHY,
        desired_revision="c",
        applied_revision="c",
        containers=(info,),
    )

    document = json.loads(json.dumps(state.to_json()))

    assert document["containers"][0]["createdAt"] == "2024-05-01T12:00:00Z"
    assert "created_at" not in document["containers"][0]
    assert AppStanding.model_validate(document) == state
    del document["containers"][0]["createdAt"]  # stored by a release without it
    assert AppStanding.model_validate(document).containers[0].created_at is None
    unknown = ObservedContainer("a", "w", "w", "w", "h", "c", ContainerState.RUNNING)
    assert ContainerInfo.of(unknown).created_at is None
