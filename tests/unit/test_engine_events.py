"""The event-following loop both adapters share: a lost stream is an interruption, the next one
is announced as the engine coming back, waits grow with each failure in a row, and stop wakes
a blocked read. The engines themselves are covered by the integration tests
(tests/integration/test_loop_events.py, tests/integration/test_swarm_runtime.py); here the
stream is a stand-in, as only the control flow is under test."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import pytest

from gitberth.core.backoff import Backoff
from gitberth.runtime.base import RuntimeEvent
from gitberth.runtime.engine_events import follow_engine_events


class Stream:
    """A finite event stream, or (``block=True``) one whose read waits until it is closed."""

    def __init__(self, raws: list[dict[str, Any]], *, block: bool = False) -> None:
        self.raws = raws
        self.block = block
        self.closed = threading.Event()
        self.reading = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.raws
        if self.block:
            self.reading.set()
            self.closed.wait()

    def close(self) -> None:
        self.closed.set()


@dataclass
class Engine:
    """Hands out the planned streams in turn; an exception in the plan is a failed connect.
    Sets *stop* once the plan is used up, so the loop ends."""

    plan: list[Stream | Exception]
    stop: threading.Event
    filters: list[Mapping[str, Any]] = field(default_factory=list)
    closed_clients: int = 0

    def connect(self) -> Engine:
        if not self.plan:
            self.stop.set()
            raise docker.errors.DockerException("no more")
        step = self.plan.pop(0)
        if isinstance(step, Exception):
            raise step
        self._stream = step
        return self

    def events(self, *, decode: bool, filters: Mapping[str, Any]) -> Stream:
        assert decode
        self.filters.append(filters)
        return self._stream

    def close(self) -> None:
        self.closed_clients += 1


class CountingBackoff(Backoff):
    """Records each attempt it is asked about and waits not at all."""

    def __init__(self) -> None:
        super().__init__(base=0.0, limit=0.0)
        object.__setattr__(self, "attempts", [])

    def delay(self, attempt: int) -> float:
        self.attempts.append(attempt)  # type: ignore[attr-defined]
        return 0.0


def translate(raw: Mapping[str, Any]) -> RuntimeEvent | None:
    return RuntimeEvent(reason=f"got {raw['n']}") if raw.get("n") else None


def follow(engine: Engine, backoff: Backoff) -> list[str]:
    seen: list[RuntimeEvent] = []
    follow_engine_events(
        connect=engine.connect,  # type: ignore[arg-type]
        filters={"type": "service"},
        translate=translate,
        on_event=seen.append,
        stop=engine.stop,
        backoff=backoff,
        engine="the engine",
    )
    return [event.reason for event in seen]


def test_an_ended_stream_is_an_interruption_and_the_next_one_is_announced() -> None:
    stop = threading.Event()
    engine = Engine(plan=[Stream([{"n": 1}, {"other": 1}]), Stream([{"n": 2}])], stop=stop)
    reasons = follow(engine, CountingBackoff())
    assert reasons[:5] == [
        "got 1",  # the untranslated event is dropped
        "the engine events interrupted",
        "the engine is back",
        "got 2",
        "the engine events interrupted",
    ]
    assert engine.filters == [{"type": "service"}] * 2
    assert engine.closed_clients == 2


def test_the_wait_grows_with_failures_in_a_row_and_restarts_after_a_stream() -> None:
    stop = threading.Event()
    down = docker.errors.DockerException("engine down")
    engine = Engine(plan=[down, OSError("socket"), Stream([]), down], stop=stop)
    backoff = CountingBackoff()
    reasons = follow(engine, backoff)
    assert backoff.attempts[:4] == [1, 2, 1, 2]  # type: ignore[attr-defined]
    assert reasons.count("the engine is back") == 1
    assert reasons.index("the engine is back") == 2  # after the two failed connects


def test_stop_wakes_a_blocked_read_and_ends_the_loop() -> None:
    stop = threading.Event()
    stream = Stream([{"n": 1}], block=True)
    engine = Engine(plan=[stream], stop=stop)
    reasons: list[str] = []
    thread = threading.Thread(target=lambda: reasons.extend(follow(engine, CountingBackoff())))
    thread.start()
    assert stream.reading.wait(30)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert stream.closed.is_set()
    assert reasons == ["got 1"]  # no interruption reported once stopped


def test_an_error_outside_the_engines_own_is_not_swallowed() -> None:
    stop = threading.Event()
    engine = Engine(plan=[ValueError("a bug")], stop=stop)
    with pytest.raises(ValueError):
        follow(engine, CountingBackoff())
