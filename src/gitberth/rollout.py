"""Replace a running container without losing the service when the new one is broken.

A replacement is the riskiest moment of a deploy: the old container works, the new one is only a
promise. So the new container is started under a *staging name* and must prove it is healthy
(its image HEALTHCHECK, else a TCP connect to its published port, else simply staying up) within
the rollout timeout before the old one goes; only then does it take the real name. When it never
becomes healthy it is removed and the old one is kept (an automatic rollback), and the app is
reported Degraded with the reason.

Start-first (new before old) needs two containers to coexist, which a fixed ``hostPort`` forbids;
such services go stop-first: the old container is stopped (not removed), the new one started,
and on failure the old one is started again.

A crash at any step leaves only labelled containers that the next level-based pass repairs: a
staging name never ends in ``-<replica>``, so the planner removes a left-over staging container,
and an old container that was stopped is replaced because it is not running.

This module only orchestrates; the engine calls are behind :class:`RolloutEngine`, which
:class:`gitberth.runtime.docker.DockerRuntime` implements, so the sequence is testable alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from gitberth import container_logs
from gitberth.core.errors import ActionFailedError, GitberthError, RolloutFailedError
from gitberth.core.models import ObservedContainer, ResolvedService
from gitberth.core.plan import Action
from gitberth.defaults import DEFAULT_ROLLOUT_TIMEOUT

STAGING_SUFFIX = "-next"
_POLL_SECONDS = 0.05
_SETTLE_SECONDS = 0.3
"""How long a container with no health signal at all must stay up to count as started."""


class Strategy(StrEnum):
    START_FIRST = "start-first"
    STOP_FIRST = "stop-first"


def strategy_for(service: ResolvedService) -> Strategy:
    """Stop-first only when two containers could not both run: a fixed host port."""
    return Strategy.STOP_FIRST if service.spec.host_port is not None else Strategy.START_FIRST


def staging_name(name: str) -> str:
    """The name a new container runs under until it is healthy.

    Real container names always end in ``-<replica number>``; this one ends in ``-next``, so it
    can never collide with one and the planner treats a left-over as not ours to keep.
    """
    return f"{name}{STAGING_SUFFIX}"


@dataclass(frozen=True)
class Condition:
    """What the engine says about a container right now, as far as health goes."""

    running: bool
    status: str
    health: str | None = None
    """Docker's health status (starting, healthy, unhealthy) when the image has a HEALTHCHECK."""
    host_port: int | None = None


class RolloutEngine(Protocol):
    """The engine operations a rollout needs; each raises ActionFailedError on failure."""

    def start_container(
        self, service: ResolvedService, *, name: str, revision: str
    ) -> ObservedContainer: ...

    def condition(self, container_id: str) -> Condition: ...

    def stop_container(self, container_id: str) -> None: ...

    def restart_container(self, container_id: str) -> None: ...

    def remove_container(self, container_id: str, *, name: str) -> None: ...

    def rename_container(self, container_id: str, *, name: str) -> None: ...

    def last_output(self, container_id: str, *, lines: int) -> list[str]:
        """The container's last *lines* lines of output; empty when they cannot be read."""
        ...


Probe = Callable[[int], bool]


def tcp_ready(port: int) -> bool:
    """True when something accepts a TCP connection on 127.0.0.1:*port* and keeps it open.

    Docker's userland proxy accepts on the published port even when nothing listens inside the
    container, then closes the connection at once; so a connection that is closed before it
    says anything does not count, while one that stays open (an HTTP server waiting for a
    request) or sends a banner does.
    """
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.settimeout(0.05)
            try:
                return bool(sock.recv(1))
            except TimeoutError:
                return True
    except OSError:
        return False


def wait_healthy(
    engine: RolloutEngine,
    container: ObservedContainer,
    *,
    timeout: float,
    probe: Probe = tcp_ready,
) -> str | None:
    """Wait until *container* is healthy; None when it is, else why it is not."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        condition = engine.condition(container.id)
        if not condition.running:
            return f"the new container is {condition.status}"
        if condition.health is not None:
            if condition.health == "healthy":
                return None
            waiting = f"its HEALTHCHECK reports {condition.health}"
        elif condition.host_port is not None:
            if probe(condition.host_port):
                return None
            waiting = f"nothing answers on its port (127.0.0.1:{condition.host_port})"
        else:
            if time.monotonic() - started >= min(_SETTLE_SECONDS, timeout):
                return None
            waiting = "it did not stay up"
        if time.monotonic() >= deadline:
            return f"{waiting} after {timeout:g}s"
        time.sleep(_POLL_SECONDS)


def replace(
    engine: RolloutEngine,
    action: Action,
    *,
    revision: str,
    timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
    probe: Probe = tcp_ready,
) -> ObservedContainer:
    """Replace ``action.container_id`` by a container running ``action.target``.

    Raises :class:`RolloutFailedError` (the old container is kept, running) when the new one
    does not become healthy within *timeout*.
    """
    assert action.target is not None and action.container_id is not None
    old_id, name = action.container_id, action.container_name
    strategy = strategy_for(action.target)
    staged = staging_name(name)
    if strategy is Strategy.STOP_FIRST:
        engine.stop_container(old_id)
    try:
        new = engine.start_container(action.target, name=staged, revision=revision)
    except GitberthError:
        if strategy is Strategy.STOP_FIRST:
            _restart_quietly(engine, old_id)
        raise
    problem = wait_healthy(engine, new, timeout=timeout, probe=probe)
    if problem is not None:
        problem += printed_lines(engine, new.id, service=action.target)
        engine.remove_container(new.id, name=staged)
        if strategy is Strategy.STOP_FIRST:
            _restart_quietly(engine, old_id)
        raise RolloutFailedError(
            f"the new container did not become healthy: {problem}; "
            f"rolled back, {name} still runs the previous spec ({strategy.value})"
        )
    engine.remove_container(old_id, name=name)
    engine.rename_container(new.id, name=name)
    return dataclasses.replace(new, name=name)


OUTPUT_LINES = 10


def printed_lines(engine: RolloutEngine, container_id: str, *, service: ResolvedService) -> str:
    """``; it printed: ...`` with the new container's last lines, every secret value gitberth
    gave it redacted (the reason goes to status, events, logs and notifications)."""
    lines = engine.last_output(container_id, lines=OUTPUT_LINES)
    if not lines:
        return ""
    secrets = container_logs.secret_values(service.env, service.files)
    cleaned = container_logs.redact(lines, secrets)
    return "; it printed:\n" + container_logs.tail_text(cleaned, count=OUTPUT_LINES)


def _restart_quietly(engine: RolloutEngine, container_id: str) -> None:
    """Bring the old container back after a failed stop-first rollout; if that fails too, the
    next pass sees it stopped and replaces it, so the error is not worth masking the first."""
    with contextlib.suppress(ActionFailedError):
        engine.restart_container(container_id)
