"""A fake runtime: a dict of containers that actions mutate, and an event stream tests feed.

Enough of :class:`gitberth.runtime.base.Runtime` for pure planner tests and for the loop's
decisions (coalescing, backoff, self-heal, reconnects, held apps) without an engine; the real
adapters keep their engine tests."""

from __future__ import annotations

import dataclasses
import itertools
import queue
import threading
from collections.abc import Callable, Iterable

from gitberth.container_logs import LogFollower, LogLine, LogTarget
from gitberth.core.backoff import Backoff
from gitberth.core.errors import ActionFailedError, RuntimeUnavailableError
from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.plan import Action, ActionKind
from gitberth.runtime.base import RuntimeEvent

_ids = itertools.count(1)


class FakeLogs:
    """What each container printed, as tests set it in :attr:`printed`."""

    def __init__(self, runtime: FakeRuntime) -> None:
        self._runtime = runtime
        self.printed: dict[str, list[LogLine]] = {}

    def targets(self, app: str, *, service: str | None = None) -> list[LogTarget]:
        return sorted(
            (
                LogTarget(c.id, c.name, c.service)
                for c in self._runtime.containers.values()
                if c.app == app and service in (None, c.service)
            ),
            key=lambda t: t.name,
        )

    def read(
        self, app: str, *, service: str | None = None, tail: int = 100, since: float | None = None
    ) -> list[LogLine]:
        lines = [
            line
            for target in self.targets(app, service=service)
            for line in self.printed.get(target.name, [])[-tail:]
        ]
        return sorted(lines, key=lambda line: line.time)

    def follow(
        self, app: str, *, service: str | None = None, tail: int = 10, since: float | None = None
    ) -> LogFollower:
        follower = LogFollower()
        for target in self.targets(app, service=service):
            printed = self.printed.get(target.name, [])[-tail:]
            follower.add(target, iter([f"{line.time} {line.line}\n".encode() for line in printed]))
        return follower


class FakeRuntime:
    """Applies plan actions to an in-memory set of containers, the way the engine would."""

    source = "fake-source"

    def __init__(self, containers: list[ObservedContainer] | None = None) -> None:
        self.containers = {c.id: c for c in containers or []}
        self.logs = FakeLogs(self)
        self.failing: set[str] = set()
        """Apps whose actions fail (an image that does not start, say)."""
        self.gates: dict[str, threading.Event] = {}
        """Apps whose actions wait until their event is set (a slow start, held by a test)."""
        self.reachable = True
        """False: every call fails as an engine that does not answer."""
        self.observe_calls = 0
        self.applied: list[Action] = []
        self.settled: list[list[str]] = []
        self.swept = 0
        self._events: queue.Queue[RuntimeEvent] = queue.Queue()
        self._lock = threading.Lock()

    def observe(self) -> list[ObservedContainer]:
        self._check_reachable()
        with self._lock:
            self.observe_calls += 1
            return list(self.containers.values())

    def apply(self, action: Action, *, revision: str) -> ObservedContainer | None:
        self._check_reachable()
        gate = self.gates.get(action.app)
        if gate is not None:
            gate.wait(timeout=30)
        if action.app in self.failing and action.kind is not ActionKind.REMOVE:
            raise ActionFailedError(f"{action.container_name} does not start")
        with self._lock:
            self.applied.append(action)
            if action.kind in (ActionKind.REMOVE, ActionKind.REPLACE):
                assert action.container_id is not None
                del self.containers[action.container_id]
            if action.kind in (ActionKind.CREATE, ActionKind.REPLACE):
                assert action.target is not None
                created = container(
                    action.app,
                    action.service,
                    action.container_name,
                    spec_hash=action.target.spec_hash,
                    revision=revision,
                )
                self.containers[created.id] = created
                return created
        return None

    def watch(
        self, on_event: Callable[[RuntimeEvent], None], *, stop: threading.Event, backoff: Backoff
    ) -> None:
        while not stop.is_set():
            try:
                event = self._events.get(timeout=0.02)
            except queue.Empty:
                continue
            on_event(event)

    def settle(self, container_ids: Iterable[str], *, timeout: float) -> None:
        self.settled.append(sorted(container_ids))

    def sweep(self) -> None:
        self.swept += 1

    # What tests do to the fake engine.

    def emit(self, event: RuntimeEvent) -> None:
        """Deliver *event* to whoever watches, as the engine's event stream would."""
        self._events.put(event)

    def crash(self, name: str) -> ObservedContainer:
        """The container called *name* exits on its own; returns it as it was."""
        with self._lock:
            [victim] = [c for c in self.containers.values() if c.name == name]
            self.containers[victim.id] = _with_state(victim, ContainerState.EXITED)
        return victim

    def running(self, app: str) -> list[str]:
        with self._lock:
            return sorted(
                c.name
                for c in self.containers.values()
                if c.app == app and c.state is ContainerState.RUNNING
            )

    def _check_reachable(self) -> None:
        if not self.reachable:
            raise RuntimeUnavailableError("Docker engine unreachable while listing containers")


def _with_state(observed: ObservedContainer, state: ContainerState) -> ObservedContainer:
    return dataclasses.replace(observed, state=state)


def container(
    app: str,
    service: str,
    name: str,
    *,
    spec_hash: str = "h",
    revision: str = "r",
    state: ContainerState = ContainerState.RUNNING,
) -> ObservedContainer:
    return ObservedContainer(
        id=f"c{next(_ids)}",
        name=name,
        app=app,
        service=service,
        spec_hash=spec_hash,
        revision=revision,
        state=state,
    )
