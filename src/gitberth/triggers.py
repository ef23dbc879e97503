"""The loop's trigger queue: everything that asks for a pass, coalesced into the next one.

Triggers only wake the loop (every pass is level-based), so what matters is *that* a pass
follows and what it must refresh first (fetch a remote, re-read the branch, rebuild the desired
state, wait for a crashed container to settle). Triggers that arrive while a pass runs merge
into one follow-up pass; a periodic resync and a scheduled retry are triggers the queue makes
itself when their time comes.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


@dataclass
class PassRequest:
    """What the next pass must do, merged from every trigger since the last pass began."""

    reasons: list[str] = field(default_factory=list)
    fetch: bool = False
    read: bool = False
    rebuild: bool = False
    died: set[str] = field(default_factory=set)
    """Ids of containers whose crash woke this pass (the pass first lets the engine settle)."""

    def merge(
        self, reason: str, *, fetch: bool, read: bool, rebuild: bool, died: str | None = None
    ) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.fetch |= fetch
        self.read |= read
        self.rebuild |= rebuild
        if died is not None:
            self.died.add(died)

    @property
    def trigger(self) -> str:
        """The reasons in words, as ``GET /events`` shows them."""
        return ", ".join(self.reasons)

    @property
    def reads_source(self) -> bool:
        return self.fetch or self.read


def full_pass(reason: str) -> PassRequest:
    """A pass that fetches and reads the branch again (start, resync, retry, by hand)."""
    return PassRequest([reason], fetch=True, read=True)


class TriggerQueue:
    """Coalesces triggers and hands the worker one :class:`PassRequest` at a time."""

    def __init__(self, first: PassRequest | None = None) -> None:
        self._condition = threading.Condition()
        self._pending = first
        self._passes = 0
        self._closed = False

    def put(
        self,
        reason: str,
        *,
        fetch: bool = False,
        read: bool = False,
        rebuild: bool = False,
        died: str | None = None,
    ) -> None:
        """Ask for a pass; merges with any pass already asked for."""
        with self._condition:
            if self._pending is None:
                self._pending = PassRequest()
            self._pending.merge(reason, fetch=fetch, read=read, rebuild=rebuild, died=died)
            self._condition.notify_all()

    @property
    def pending(self) -> PassRequest | None:
        """The pass asked for and not begun yet, if any."""
        with self._condition:
            return self._pending

    def take(self, *, resync_at: float, retry_at: float | None) -> PassRequest | None:
        """Block until a pass is due: one asked for, or the resync or retry time (monotonic
        seconds) reached. None once :meth:`close` was called."""
        with self._condition:
            while True:
                if self._closed:
                    return None
                if self._pending is not None:
                    request, self._pending = self._pending, None
                    return request
                now = time.monotonic()
                if now >= resync_at:
                    return full_pass("periodic resync")
                if retry_at is not None and now >= retry_at:
                    return full_pass("retry")
                deadline = min(resync_at, retry_at if retry_at is not None else math.inf)
                self._condition.wait(max(0.01, deadline - now))

    def close(self) -> None:
        """Wake the worker for good: :meth:`take` returns None from now on."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    def pass_done(self) -> None:
        with self._condition:
            self._passes += 1
            self._condition.notify_all()

    @property
    def passes(self) -> int:
        """How many passes have finished."""
        with self._condition:
            return self._passes

    def wait_for_passes(self, count: int, *, timeout: float) -> bool:
        """Block until at least *count* passes have finished; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._passes < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
            return True
