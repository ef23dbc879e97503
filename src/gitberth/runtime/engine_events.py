"""Following an engine's event stream until stopped, written once for Docker and Swarm.

Both adapters read ``client.events(...)`` the same way: a blocked read wakes only when its
stream is closed (so a closer thread closes it on *stop*), a broken or ended stream is an
interruption (the loop falls back to its periodic pass) followed by a reconnect after a backoff,
and the first stream read after an interruption is announced (the loop runs a pass at once, as
events may have been missed meanwhile). Only the filter, the translation of one raw event and
the engine's name in the reasons differ, and those are the arguments.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from typing import Any

import docker
import docker.errors
import requests

from gitberth.core.backoff import Backoff
from gitberth.runtime.base import RuntimeEvent


def follow_engine_events(
    *,
    connect: Callable[[], docker.DockerClient],
    filters: Mapping[str, Any],
    translate: Callable[[Mapping[str, Any]], RuntimeEvent | None],
    on_event: Callable[[RuntimeEvent], None],
    stop: threading.Event,
    backoff: Backoff,
    engine: str,
) -> None:
    """Deliver the translated events of every stream *connect* opens until *stop* is set.

    *translate* returns None for an event that is not this watcher's business (it is dropped).
    *engine* names the engine in the ``"<engine> events interrupted"`` and ``"<engine> is back"``
    reasons. Returns once *stop* is set, even while a read is blocked.
    """
    streams: list[Any] = []
    lock = threading.Lock()

    def close_on_stop() -> None:
        stop.wait()  # a blocked read of the stream wakes only when the stream is closed
        with lock:
            for stream in streams:
                with contextlib.suppress(Exception):
                    stream.close()

    threading.Thread(target=close_on_stop, name="gitberth-events-close", daemon=True).start()
    failures = 0
    while not stop.is_set():
        try:
            client = connect()
            stream = client.events(decode=True, filters=dict(filters))
            with lock:
                streams[:] = [stream]
            if stop.is_set():
                stream.close()
                break
            if failures:
                on_event(RuntimeEvent(reason=f"{engine} is back", reconnected=True))
            failures = 0
            for raw in stream:
                if stop.is_set():
                    break
                event = translate(raw)
                if event is not None:
                    on_event(event)
            with contextlib.suppress(Exception):
                client.close()
        except (docker.errors.DockerException, requests.RequestException, OSError):
            pass
        with lock:
            streams.clear()
        if stop.is_set():
            break
        failures += 1
        on_event(RuntimeEvent(reason=f"{engine} events interrupted", interrupted=True))
        stop.wait(backoff.delay(failures))
