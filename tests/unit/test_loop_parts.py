"""The loop's parts alone: the trigger queue, the retry policies, the runtime watcher."""

from __future__ import annotations

import threading
import time

from gitberth.core.backoff import Backoff
from gitberth.core.manifests import parse_manifest
from gitberth.core.plan import DesiredState
from gitberth.core.resolve import resolve_app
from gitberth.retries import AppBackoffs, PassRetry
from gitberth.runtime.base import RuntimeEvent
from gitberth.triggers import PassRequest, TriggerQueue, full_pass
from gitberth.watchers import watch_runtime
from tests.unit.fakes import FakeRuntime

FAR = time.monotonic() + 3600


def test_triggers_coalesce_into_one_request_with_every_reason_and_need() -> None:
    queue = TriggerQueue()
    queue.put("commit", read=True)
    queue.put("docker: web-1 die", died="c1")
    queue.put("secret changed", rebuild=True)
    queue.put("commit", read=True)
    queue.put("docker: api-1 die", died="c2")

    request = queue.take(resync_at=FAR, retry_at=None)

    assert request == PassRequest(
        ["commit", "docker: web-1 die", "secret changed", "docker: api-1 die"],
        fetch=False,
        read=True,
        rebuild=True,
        died={"c1", "c2"},
    )
    assert request.trigger == "commit, docker: web-1 die, secret changed, docker: api-1 die"
    assert queue.pending is None


def test_the_queue_makes_a_resync_and_a_retry_when_their_time_comes() -> None:
    queue = TriggerQueue()
    past = time.monotonic() - 1
    assert queue.take(resync_at=past, retry_at=None) == full_pass("periodic resync")
    assert queue.take(resync_at=FAR, retry_at=past) == full_pass("retry")
    soon = time.monotonic() + 0.05
    assert queue.take(resync_at=FAR, retry_at=soon) == full_pass("retry")
    assert time.monotonic() >= soon


def test_a_closed_queue_wakes_its_worker_and_hands_out_nothing_more() -> None:
    queue = TriggerQueue(full_pass("start"))
    taken: list[PassRequest | None] = []
    queue.take(resync_at=FAR, retry_at=None)
    worker = threading.Thread(target=lambda: taken.append(queue.take(resync_at=FAR, retry_at=None)))
    worker.start()
    queue.close()
    worker.join(timeout=5)
    assert taken == [None]
    queue.put("too late")
    assert queue.take(resync_at=FAR, retry_at=None) is None


def test_waiting_for_passes_returns_once_they_are_done_or_on_timeout() -> None:
    queue = TriggerQueue()
    assert not queue.wait_for_passes(1, timeout=0.01)
    threading.Timer(0.02, queue.pass_done).start()
    assert queue.wait_for_passes(1, timeout=5) and queue.passes == 1


def test_a_failed_pass_is_retried_later_each_time_and_a_good_one_resets_it() -> None:
    retry = PassRetry(Backoff(base=0.5, limit=2.0))
    assert [retry.after(failed=True) for _ in range(4)] == [0.5, 1.0, 2.0, 2.0]
    assert retry.after(failed=False) is None
    assert retry.after(failed=True) == 0.5


def desired(*, env: str = "1") -> DesiredState:
    manifest = parse_manifest(f"name: web\nimage: x\nenv: {{V: '{env}'}}\n", file="apps/web.yaml")
    return DesiredState("r" * 40, {"web": resolve_app(manifest, secrets={})})


def test_a_failed_app_waits_its_delay_unless_its_spec_changes() -> None:
    backoffs = AppBackoffs(Backoff(base=60.0, limit=600.0))
    backoffs.note("web", failed=True, desired=desired())
    assert backoffs.waiting(desired()) == {"web"}
    soonest = backoffs.soonest()
    assert soonest is not None and 59 < soonest - time.monotonic() <= 60

    assert backoffs.waiting(desired(env="2")) == set()  # a fix is tried at once
    assert backoffs.apps() == set() and backoffs.soonest() is None


def test_failures_in_a_row_wait_longer_and_a_success_releases_the_app() -> None:
    backoffs = AppBackoffs(Backoff(base=60.0, limit=600.0))
    backoffs.note("web", failed=True, desired=desired())
    backoffs.note("web", failed=True, desired=desired())
    soonest = backoffs.soonest()
    assert soonest is not None and 119 < soonest - time.monotonic() <= 120
    backoffs.note("web", failed=False, desired=desired())
    assert backoffs.waiting(desired()) == set()


def test_an_app_whose_delay_is_over_is_tried_again() -> None:
    backoffs = AppBackoffs(Backoff(base=0.0, limit=0.0))
    backoffs.note("web", failed=True, desired=desired())
    assert backoffs.waiting(desired()) == set()
    assert backoffs.apps() == {"web"}  # still counted: the next failure waits longer


class Triggers:
    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, str | None]] = []

    def __call__(
        self,
        reason: str,
        *,
        fetch: bool = False,
        read: bool = False,
        rebuild: bool = False,
        died: str | None = None,
    ) -> None:
        self.calls.append((reason, read, died))


class Marks:
    def __init__(self) -> None:
        self.marked: list[tuple[str, str, str | None]] = []

    def mark_container(self, app: str, container: str, *, state: str | None) -> None:
        self.marked.append((app, container, state))


def test_the_runtime_watcher_marks_status_and_triggers_passes_until_stopped() -> None:
    runtime, triggers, marks, stop = FakeRuntime(), Triggers(), Marks(), threading.Event()
    for event in (
        RuntimeEvent("docker: web-1 die", "web", "web-1", "c1", state="exited", crashed=True),
        RuntimeEvent("docker: web-2 destroy", "web", "web-2", "c2", gone=True),
        RuntimeEvent("docker: web-1 health_status", container_id="c1"),
        RuntimeEvent("docker events interrupted", interrupted=True),
        RuntimeEvent("docker is back", reconnected=True),
    ):
        runtime.emit(event)
    watcher = threading.Thread(
        target=watch_runtime,
        args=(runtime,),
        kwargs={
            "status": marks,
            "trigger": triggers,
            "stop": stop,
            "backoff": Backoff(0.1, 1.0),
        },
    )
    watcher.start()
    deadline = time.monotonic() + 5
    while len(triggers.calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    watcher.join(timeout=5)

    assert not watcher.is_alive()
    assert marks.marked == [("web", "web-1", "exited"), ("web", "web-2", None)]
    assert triggers.calls == [
        ("docker: web-1 die", False, "c1"),
        ("docker: web-2 destroy", False, None),
        ("docker: web-1 health_status", False, None),
        ("docker events interrupted", False, None),
        ("docker is back", True, None),
    ]
