"""Docker's event stream, translated into engine-neutral :class:`RuntimeEvent` triggers.

The loop wakes when a managed container dies, goes, is paused or renamed, or changes health,
and when the engine comes back after the stream broke. Two things only the adapter can know
are settled here: whether gitberth itself stopped the container (a replace, a prune: not news,
no self-heal), and whether the event belongs to another gitberth source on the same engine
(ignored). A container removed by hand has its secret files deleted at once (*on_gone*).
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Mapping
from typing import Any

import docker

from gitberth.core.backoff import Backoff
from gitberth.runtime.base import LABEL_APP, LABEL_SOURCE, RuntimeEvent
from gitberth.runtime.engine_events import follow_engine_events

WATCHED_EVENTS = ("die", "destroy", "oom", "pause", "rename", "health_status")
"""Container events that may leave a managed slot empty or not running, or change its health
(status shows the engine's health state, so it is refreshed when that changes)."""
_OWN_STOPS_KEPT = 1024
"""Ids of containers gitberth stopped itself, remembered to tell its own events apart."""
_FILTERS = {"type": "container", "label": LABEL_APP, "event": list(WATCHED_EVENTS)}
_STOPPING = {"die": "exited", "oom": "exited", "pause": "paused"}


class OwnStops:
    """The containers gitberth stopped or removed itself, most recent :data:`_OWN_STOPS_KEPT`."""

    def __init__(self) -> None:
        self._ids: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def note(self, container_id: str) -> None:
        with self._lock:
            self._ids[container_id] = None
            while len(self._ids) > _OWN_STOPS_KEPT:
                self._ids.popitem(last=False)

    def running_again(self, container_id: str) -> None:
        """gitberth started it again: its next death is news."""
        with self._lock:
            self._ids.pop(container_id, None)

    def __contains__(self, container_id: object) -> bool:
        with self._lock:
            return container_id in self._ids


def translate(raw: Mapping[str, Any], *, source: str, own_stops: OwnStops) -> RuntimeEvent | None:
    """One Docker event as a :class:`RuntimeEvent`; None for another source's container."""
    actor = raw.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    if attributes.get(LABEL_SOURCE) not in (None, "", source):
        return None  # another gitberth's container: its events are not this loop's business
    container_id = str(actor.get("ID") or raw.get("id") or "")
    action = str(raw.get("Action") or "")
    name = str(attributes.get("name", "?"))
    app = attributes.get(LABEL_APP)
    ours = bool(container_id) and container_id in own_stops
    news = not ours and (action == "destroy" or action in _STOPPING)
    return RuntimeEvent(
        reason=f"docker: {name} {action}",
        app=app if isinstance(app, str) and news else None,
        container=name if news else None,
        container_id=container_id or None,
        state=_STOPPING.get(action) if news else None,
        gone=action == "destroy",
        crashed=action == "die" and not ours and bool(container_id),
    )


class EventWatcher:
    """Follows one engine's container events until stopped, reconnecting with backoff."""

    def __init__(
        self,
        *,
        connect: Callable[[], docker.DockerClient],
        source: str,
        own_stops: OwnStops,
        on_gone: Callable[[str], None],
    ) -> None:
        self._connect = connect
        self._source = source
        self._own_stops = own_stops
        self._on_gone = on_gone

    def watch(
        self, on_event: Callable[[RuntimeEvent], None], *, stop: threading.Event, backoff: Backoff
    ) -> None:
        follow_engine_events(
            connect=self._connect,
            filters=_FILTERS,
            translate=self._translate,
            on_event=on_event,
            stop=stop,
            backoff=backoff,
            engine="docker",
        )

    def _translate(self, raw: Mapping[str, Any]) -> RuntimeEvent | None:
        """:func:`translate`, deleting at once the secret files of a container removed by hand
        (before the loop hears of it)."""
        event = translate(raw, source=self._source, own_stops=self._own_stops)
        if event is not None and event.gone and event.container_id:
            self._on_gone(event.container_id)
        return event
