"""Posting JSON to other servers without ever holding up a reconcile pass.

Notifications and commit statuses go to HTTP endpoints that may be slow, down, or rate
limiting. A pass only *queues* a :class:`Delivery`; a :class:`DeliveryWorker` thread per target
posts them in order, retrying a failed attempt (network error, 5xx, 429) with exponential
backoff, and gives up on one after its attempts (or at once on another 4xx, which retrying
cannot fix). The queue is bounded: when a target stays down long enough to fill it, the oldest
delivery is dropped (and counted as failed), never the pass blocked.

URLs may carry credentials (a Slack webhook's path is its secret); logs name a target only by
its :func:`display_url` (scheme and host), and httpx's own per-request log lines (full URLs) are
turned off.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger("gitberth.delivery")
logging.getLogger("httpx").setLevel(logging.WARNING)
"""httpx logs every request's full URL at INFO; a webhook URL's path is its credential."""

DEFAULT_ATTEMPTS = 8
DEFAULT_BACKOFF_BASE = 1.0
DEFAULT_BACKOFF_MAX = 120.0
DEFAULT_QUEUE_SIZE = 500
REQUEST_TIMEOUT = 10.0


def display_url(url: str) -> str:
    """A URL as logs may show it: scheme and host only (paths and queries can be secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


@dataclass(frozen=True)
class Delivery:
    """One HTTP POST of a JSON body, with what to call when it finally succeeds or fails."""

    url: str
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    on_done: Callable[[bool], None] | None = None
    description: str = ""


class DeliveryWorker:
    """Posts the deliveries of one target, in order, on a thread of its own."""

    def __init__(
        self,
        *,
        name: str,
        kind: str,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff_base: float = DEFAULT_BACKOFF_BASE,
        backoff_max: float = DEFAULT_BACKOFF_MAX,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.attempts = attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.on_retry = on_retry
        self._queue: collections.deque[Delivery] = collections.deque()
        self._queue_size = queue_size
        self._ready = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, delivery: Delivery) -> None:
        """Queue *delivery*; never blocks (a full queue drops its oldest entry)."""
        dropped: Delivery | None = None
        with self._ready:
            if len(self._queue) >= self._queue_size:
                dropped = self._queue.popleft()
            self._queue.append(delivery)
            self._ready.notify()
            if self._thread is None and not self._stopping.is_set():
                self._thread = threading.Thread(
                    target=self._run, name=f"gitberth-{self.kind}", daemon=True
                )
                self._thread.start()
        if dropped is not None:
            logger.warning("%s to %s: queue full, dropped the oldest", self.kind, self.name)
            _finish(dropped, ok=False)

    def pending(self) -> int:
        with self._ready:
            return len(self._queue)

    def stop(self, *, timeout: float = 5.0) -> None:
        """Stop after the attempt in flight; what is still queued is not sent."""
        self._stopping.set()
        with self._ready:
            self._ready.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT, follow_redirects=False) as client:
            while not self._stopping.is_set():
                with self._ready:
                    while not self._queue and not self._stopping.is_set():
                        self._ready.wait()
                    if self._stopping.is_set():
                        return
                    delivery = self._queue[0]
                ok = self._deliver(client, delivery)
                with self._ready:
                    if self._queue and self._queue[0] is delivery:
                        self._queue.popleft()
                _finish(delivery, ok=ok)

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> bool:
        delay = self.backoff_base
        for attempt in range(1, self.attempts + 1):
            problem = self._attempt(client, delivery)
            if problem is None:
                return True
            retry, reason = problem
            if not retry or attempt == self.attempts:
                logger.warning(
                    "%s to %s failed for good (%s): %s",
                    self.kind,
                    self.name,
                    delivery.description,
                    reason,
                )
                return False
            logger.info(
                "%s to %s failed (%s); retrying in %.1fs", self.kind, self.name, reason, delay
            )
            if self.on_retry is not None:
                self.on_retry()
            if self._stopping.wait(delay):
                return False
            delay = min(self.backoff_max, delay * 2)
        return False

    def _attempt(self, client: httpx.Client, delivery: Delivery) -> tuple[bool, str] | None:
        """None when delivered; else (worth retrying, why)."""
        try:
            response = client.post(
                delivery.url,
                json=dict(delivery.body),
                headers={"user-agent": "gitberth", **delivery.headers},
            )
        except httpx.HTTPError as exc:
            return True, type(exc).__name__
        if response.is_success:
            return None
        retry = response.status_code >= 500 or response.status_code in (408, 425, 429)
        return retry, f"HTTP {response.status_code}"


def _finish(delivery: Delivery, *, ok: bool) -> None:
    if delivery.on_done is not None:
        try:
            delivery.on_done(ok)
        except Exception:  # noqa: BLE001 - a metrics callback must not stop the worker
            logger.exception("delivery callback failed")


def wait_idle(workers: list[DeliveryWorker], *, timeout: float) -> bool:
    """True once every worker's queue is empty (for a clean shutdown and for tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(worker.pending() == 0 for worker in workers):
            return True
        time.sleep(0.05)
    return False
