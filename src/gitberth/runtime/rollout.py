"""Replace a running container without losing the service when the new one is broken.

A replacement is the riskiest moment of a deploy: the old container works, the new one is only a
promise. So the new container is started under a *staging name* and must prove it is healthy
(the manifest's ``healthcheck`` or the image's HEALTHCHECK, both run by the engine; else a TCP
connect to its published port, else simply staying up) within the rollout timeout before the
old one goes; only then does it take the real name. When it turns unhealthy or never becomes
healthy it is removed and the old one is kept (an automatic rollback), and the app is reported
Degraded with the reason and the check's last output.

A new container with a health check (a new app, a new replica) is waited for the same way; it
has nothing to fall back to, so it stays (the engine keeps checking it and status shows its
health) and the app is reported with the check's output.

The wait lasts the rollout timeout, or longer when the manifest's check needs longer to decide:
its start period plus *retries* intervals and timeouts.

Start-first (new before old) needs two containers to coexist, which a fixed ``hostPort`` forbids;
such services go stop-first: the old container is stopped (not removed), the new one started,
and on failure the old one is started again.

A crash at any step leaves only labelled containers that the next level-based pass repairs: a
staging name never ends in ``-<replica>``, so the planner removes a left-over staging container,
and an old container that was stopped is replaced because it is not running.

This module only orchestrates; the engine calls are behind :class:`RolloutEngine`, which
:class:`gitberth.runtime.docker.DockerRuntime` implements, so the sequence is testable alone.
It is the Docker adapter's way to apply a replace; another runtime may leave it to its engine
(Swarm's own start-first update).
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
from gitberth.core.errors import (
    ActionFailedError,
    GitberthError,
    RolloutFailedError,
    UnhealthyError,
)
from gitberth.core.observed import ObservedContainer
from gitberth.core.plan import Action
from gitberth.core.resolve import redact
from gitberth.core.resolved import ResolvedService
from gitberth.defaults import DEFAULT_ROLLOUT_TIMEOUT

STAGING_SUFFIX = "-next"
_POLL_SECONDS = 0.02
"""Between two looks at a new container: each look is one inspect and at most one connect, so
a short interval costs the engine little, and the rollout learns of health that much sooner
(a replacement waits on this gate while the old container still serves)."""
_SETTLE_SECONDS = 0.3
"""How long a container with no health signal at all must stay up to count as started."""


class Strategy(StrEnum):
    START_FIRST = "start-first"
    STOP_FIRST = "stop-first"


def strategy_for(service: ResolvedService) -> Strategy:
    """Stop-first when the manifest asks for it (``rollout: stopFirst``, e.g. so that two
    containers never write one volume) or when two containers could not both run (a fixed
    host port); start-first otherwise."""
    spec = service.spec
    if spec.fixed_host_ports or spec.rollout == "stopFirst":
        return Strategy.STOP_FIRST
    return Strategy.START_FIRST


HEALTH_MARGIN_SECONDS = 5.0
"""Slack over a manifest check's own worst case, for the engine to schedule and report it."""


def rollout_timeout(service: ResolvedService, *, timeout: float) -> float:
    """How long a new container of *service* may take to become healthy: *timeout*, or its
    manifest check's start period + retries x (interval + timeout), whichever is longer."""
    check = service.spec.options.healthcheck
    if check is None:
        return timeout
    return max(timeout, check.worst_case_seconds + HEALTH_MARGIN_SECONDS)


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
    """Docker's health status (starting, healthy, unhealthy) when there is a health check."""
    host_port: int | None = None
    host_address: str = "127.0.0.1"
    """Where ``host_port`` is published; an unspecified address (0.0.0.0) is probed on
    loopback."""
    health_output: str = ""
    """The output of the health check's last run (``State.Health.Log``), as the engine kept
    it; may hold anything the container printed, so scrub it before it goes anywhere."""
    restarts: int = 0
    """How often the engine restarted it under its restart policy: a new container that
    already crashed is not healthy, even if it happens to be up when looked at."""
    container_addresses: tuple[str, ...] = ()
    """The container's own addresses on its networks, where ``container_port`` (the port
    behind ``host_port``) is asked directly when this host reaches them."""
    container_port: int | None = None


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


Probe = Callable[[Condition], bool]
"""Whether the port a running container publishes answers (only asked when it has one)."""


def port_answers(condition: Condition) -> bool:
    """Whether the container's published port answers: asked at the container's own address
    when this host reaches it (a refused connect there is a definite no, an accepted one a
    definite yes), else through the published port (:func:`tcp_ready`).

    The direct question is the quicker one: through Docker's userland proxy an accepted
    connection proves nothing until the proxy has had time to reach the container and close
    on a refusal, so :func:`tcp_ready` must hold every connection open for a moment, and a
    replacement waits that moment at its health gate.
    """
    assert condition.host_port is not None
    if condition.container_port is not None:
        for address in condition.container_addresses:
            answer = _direct_answer(address, condition.container_port)
            if answer is not None:
                return answer
    return tcp_ready(condition.host_address, condition.host_port)


_DIRECT_TIMEOUT = 0.1
"""Seconds a direct connect may take: a container on a bridge of this host answers (or
refuses) within a fraction of a millisecond; a silent address is one this host does not reach
(gitberth in a container of its own, a network that isolates), and the published port is
asked instead."""
_unreachable: set[str] = set()
"""Container subnets' addresses that timed out once: not asked directly again, so a host that
cannot reach them pays the timeout once per address, not once per look."""


def _direct_answer(address: str, port: int) -> bool | None:
    """True when *address*:*port* accepts, False when it refuses, None when it is silent."""
    if address in _unreachable:
        return None
    try:
        with socket.create_connection((address, port), timeout=_DIRECT_TIMEOUT):
            return True
    except ConnectionRefusedError:
        return False
    except OSError:
        _unreachable.add(address)
        return None


def tcp_ready(address: str, port: int) -> bool:
    """True when something accepts a TCP connection on *address*:*port* and keeps it open.

    Docker's userland proxy accepts on the published port even when nothing listens inside the
    container, then closes the connection at once; so a connection that is closed before it
    says anything does not count, while one that stays open (an HTTP server waiting for a
    request) or sends a banner does.
    """
    try:
        with socket.create_connection((address, port), timeout=0.5) as sock:
            sock.settimeout(0.05)
            try:
                return bool(sock.recv(1))
            except TimeoutError:
                return True
    except OSError:
        return False


@dataclass(frozen=True)
class Verdict:
    """How a wait for health ended."""

    problem: str | None
    """None when the container is healthy, else why it is not."""
    health: str | None
    """Docker's health status at the last look (None without a health check): the caller
    records it without inspecting the container once more."""


def wait_healthy(
    engine: RolloutEngine,
    container: ObservedContainer,
    *,
    timeout: float,
    probe: Probe = port_answers,
) -> Verdict:
    """Wait until *container* is healthy, or until it is clear it will not be."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        condition = engine.condition(container.id)
        if not condition.running:
            return Verdict(f"the new container is {condition.status}", condition.health)
        if condition.restarts:
            return Verdict(
                f"the new container exited and the engine restarted it {condition.restarts} "
                f"time(s) ({condition.status})",
                condition.health,
            )
        if condition.health is not None:
            if condition.health == "healthy":
                return Verdict(None, condition.health)
            output = _last_output(condition)
            if condition.health == "unhealthy":
                return Verdict(f"its health check failed{output}", condition.health)
            waiting = f"its health check reports {condition.health}{output}"
        elif condition.host_port is not None:
            if probe(condition):
                return Verdict(None, condition.health)
            where = f"{condition.host_address}:{condition.host_port}"
            waiting = f"nothing answers on its port ({where})"
        else:
            if time.monotonic() - started >= min(_SETTLE_SECONDS, timeout):
                return Verdict(None, condition.health)
            waiting = "it did not stay up"
        if time.monotonic() >= deadline:
            return Verdict(f"{waiting} after {timeout:g}s", condition.health)
        time.sleep(_POLL_SECONDS)


def _last_output(condition: Condition) -> str:
    output = " ".join(condition.health_output.split())
    if not output:
        return ""
    if len(output) > MAX_OUTPUT_CHARS:
        output = output[:MAX_OUTPUT_CHARS] + "…"
    return f" (last output: {output})"


MAX_OUTPUT_CHARS = 500


def create(
    engine: RolloutEngine,
    action: Action,
    *,
    revision: str,
    timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
) -> ObservedContainer:
    """Start a container in an empty slot; when it has a health check, wait for its verdict.

    Raises :class:`UnhealthyError` when the check fails or never passes in time: the container
    is left running under its real name (there is nothing to roll back to), and the engine's
    health state keeps telling status whether it recovers.
    """
    assert action.target is not None
    new = engine.start_container(action.target, name=action.container_name, revision=revision)
    if new.health is None:  # as the engine reported it just after the start
        return new  # no health check at all: starting is all a new container can prove
    verdict = wait_healthy(
        engine, new, timeout=rollout_timeout(action.target, timeout=timeout), probe=_no_probe
    )
    if verdict.problem is not None:
        left = dataclasses.replace(new, health=verdict.health)
        raise UnhealthyError(
            f"{action.container_name} did not become healthy: "
            f"{redact(verdict.problem, action.target)}",
            container=left,
        )
    return dataclasses.replace(new, health="healthy")


def _no_probe(condition: Condition) -> bool:
    """The engine's health state decides for a checked container; no TCP probe."""
    return False


def replace(
    engine: RolloutEngine,
    action: Action,
    *,
    revision: str,
    timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
    probe: Probe = port_answers,
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
    verdict = wait_healthy(
        engine, new, timeout=rollout_timeout(action.target, timeout=timeout), probe=probe
    )
    if verdict.problem is not None:
        problem = verdict.problem + printed_lines(engine, new.id, service=action.target)
        engine.remove_container(new.id, name=staged)
        if strategy is Strategy.STOP_FIRST:
            _restart_quietly(engine, old_id)
        raise RolloutFailedError(
            f"the new container did not become healthy: {redact(problem, action.target)}; "
            f"rolled back, {name} still runs the previous spec ({strategy.value})"
        )
    engine.remove_container(old_id, name=name)
    engine.rename_container(new.id, name=name)
    return dataclasses.replace(new, name=name, health=verdict.health)


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
