"""Swarm's service events, translated into engine-neutral :class:`RuntimeEvent` triggers.

Swarm restarts and reschedules tasks itself, so a task that dies is not news for gitberth (no
self-heal of its own: the orchestrator already does it). What is news is a change to a service
behind gitberth's back: one removed or updated by hand, or rolled back by Swarm. A manager
reports those as ``service`` events carrying the service's name; each only wakes the loop,
whose level-based pass then compares every service with Git.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import docker

from gitberth.core.backoff import Backoff
from gitberth.runtime.base import RuntimeEvent
from gitberth.runtime.engine_events import follow_engine_events

WATCHED_ACTIONS = ("create", "update", "remove")


def translate(raw: Mapping[str, Any]) -> RuntimeEvent | None:
    """One ``service`` event as a trigger; None for other kinds."""
    if raw.get("Type") != "service":
        return None
    action = str(raw.get("Action") or "")
    if action not in WATCHED_ACTIONS:
        return None
    attributes = (raw.get("Actor") or {}).get("Attributes") or {}
    name = str(attributes.get("name") or (raw.get("Actor") or {}).get("ID") or "?")
    detail = attributes.get("updatestate.new")
    suffix = f" ({detail})" if detail else ""
    return RuntimeEvent(reason=f"swarm: service {name} {action}{suffix}")


class ServiceEventWatcher:
    """Follows one manager's service events until stopped, reconnecting with backoff."""

    def __init__(self, *, connect: Callable[[], docker.DockerClient]) -> None:
        self._connect = connect

    def watch(
        self, on_event: Callable[[RuntimeEvent], None], *, stop: threading.Event, backoff: Backoff
    ) -> None:
        follow_engine_events(
            connect=self._connect,
            filters={"type": "service"},
            translate=translate,
            on_event=on_event,
            stop=stop,
            backoff=backoff,
            engine="swarm manager",
        )
