"""``GET /apps/{name}/logs``: what the app's containers printed, once or as a live stream.

Without ``follow`` the answer is JSON: the last ``tail`` lines of each container (optionally one
``service``, optionally ``since`` a time), merged in time order. With ``follow=true`` it is a
server-sent event stream (``text/event-stream``): first those lines, then each new one as the
engine reports it, one ``event: line`` per line with a JSON ``data`` object; ``event: end`` when
every container's stream ended or the stream reached its time limit (an hour; reconnect for
more). A client that disconnects closes the engine streams at once
(``gitberth_log_streams`` counts the open ones).

The same visibility as ``/apps/{name}``: an app-scoped token reads only its own app.
"""

from __future__ import annotations

import json
import math
import queue
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from gitberth.api.auth import Authenticated
from gitberth.api.routes_history import require_visible
from gitberth.container_logs import MAX_TAIL, LogFollower, LogReader
from gitberth.core.errors import InvalidRequestError
from gitberth.metrics import OperationsMetrics
from gitberth.status import StatusStore

MAX_FOLLOW_SECONDS = 3600.0
KEEPALIVE_SECONDS = 15.0
_DURATION = re.compile(r"^(\d{1,9}(?:\.\d{1,9})?)(s|m|h|d)$")
_NUMBER = re.compile(r"^\d{1,12}(?:\.\d{1,9})?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str | None, *, now: float) -> float | None:
    """``since`` as POSIX seconds: a number, an ISO 8601 time, or a duration ago (``10m``)."""
    if not text:
        return None
    match = _DURATION.fullmatch(text)
    try:
        if match:
            at = now - float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        elif _NUMBER.fullmatch(text):
            at = float(text)
        else:
            at = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        at = math.nan
    if not math.isfinite(at):
        raise InvalidRequestError(
            "since must be POSIX seconds, an ISO 8601 time, or a duration such as 10m",
            field="since",
        )
    return max(0.0, at)


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


def router(
    *,
    logs: LogReader,
    status: StatusStore,
    metrics: OperationsMetrics,
    max_follow_seconds: float = MAX_FOLLOW_SECONDS,
) -> APIRouter:
    routes = APIRouter(tags=["logs"])

    @routes.get(
        "/apps/{name}/logs",
        responses={
            200: {
                "description": "JSON `{app, lines: [{container, service, time, line}]}`, or with "
                "follow=true a `text/event-stream` of `line` events and a final `end` event",
                "content": {"text/event-stream": {}},
            },
            404: {"description": "unknown app"},
        },
    )
    async def app_logs(
        name: str,
        principal: Authenticated,
        service: Annotated[str | None, Query(max_length=63)] = None,
        tail: Annotated[int, Query(ge=0, le=MAX_TAIL)] = 100,
        since: Annotated[str | None, Query(max_length=64)] = None,
        follow: bool = False,
    ) -> Any:
        """The app's container output (engine logs API)."""
        require_visible(principal, name)
        since_at = parse_since(since, now=time.time())
        if not follow:
            lines = await anyio.to_thread.run_sync(
                lambda: logs.read(name, service=service, tail=tail, since=since_at)
            )
            if not lines and status.app(name) is None:
                targets = await anyio.to_thread.run_sync(lambda: logs.targets(name))
                if not targets:
                    raise HTTPException(status_code=404)
            return {"app": name, "lines": [line.to_json() for line in lines]}
        if status.app(name) is None and not await anyio.to_thread.run_sync(
            lambda: logs.targets(name)
        ):
            raise HTTPException(status_code=404)
        follower = await anyio.to_thread.run_sync(
            lambda: logs.follow(name, service=service, tail=tail, since=since_at)
        )
        return StreamingResponse(
            _stream(follower, metrics=metrics, limit=max_follow_seconds),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    return routes


async def _stream(
    follower: LogFollower, *, metrics: OperationsMetrics, limit: float
) -> AsyncIterator[bytes]:
    """Lines as server-sent events until every stream ends, the limit, or the client leaves
    (Starlette cancels this generator; ``finally`` closes the engine streams)."""
    metrics.log_streams.inc()
    deadline = time.monotonic() + limit
    open_streams = follower.containers
    reason = "every container's log ended"
    try:
        yield _event("open", {"containers": open_streams})
        last_sent = time.monotonic()
        while open_streams > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = f"the stream reached its limit of {limit:g}s; reconnect to go on"
                break
            wait = min(1.0, remaining)
            try:
                line = await anyio.to_thread.run_sync(follower.lines.get, True, wait)
            except queue.Empty:
                if time.monotonic() - last_sent >= KEEPALIVE_SECONDS:
                    last_sent = time.monotonic()
                    yield b": keepalive\n\n"
                continue
            if line is None:
                open_streams -= 1
                continue
            last_sent = time.monotonic()
            yield _event("line", line.to_json())
        yield _event("end", {"reason": reason})
    finally:
        follower.close()
        metrics.log_streams.dec()
