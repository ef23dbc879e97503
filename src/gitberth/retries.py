"""When the loop tries again: a failed pass, and each app whose actions failed.

Both wait :class:`~gitberth.core.backoff.Backoff` delays. A failed pass (engine unreachable,
source unreadable) is retried as a whole; an app whose rollout failed is held out of passes
until its delay is over or its spec changes (a fix is tried at once), so one broken app never
makes the loop hammer the engine and never holds back the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gitberth.core.backoff import Backoff
from gitberth.core.plan import DesiredState


class PassRetry:
    """Counts the failed passes in a row and says when to try again."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self._failures = 0

    def after(self, *, failed: bool) -> float | None:
        """The delay before the next retry after a pass that *failed*, or None after a good
        one (which resets the count)."""
        if not failed:
            self._failures = 0
            return None
        self._failures += 1
        return self.backoff.delay(self._failures)


@dataclass
class _Held:
    spec: tuple[str, ...]
    attempts: int
    until: float


class AppBackoffs:
    """The apps held out of passes after their actions failed, each until its time comes."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self._held: dict[str, _Held] = {}

    def waiting(self, desired: DesiredState) -> set[str]:
        """The apps of *desired* still waiting out their backoff; an app whose spec changed
        is released at once (the new spec deserves a try)."""
        now = time.monotonic()
        waiting: set[str] = set()
        for app, held in list(self._held.items()):
            if held.spec != spec_key(desired, app):
                del self._held[app]
            elif now < held.until:
                waiting.add(app)
        return waiting

    def note(self, app: str, *, failed: bool, desired: DesiredState) -> None:
        """Record how *app* fared this pass: a failure holds it (longer each time in a row),
        anything else releases it."""
        if not failed:
            self._held.pop(app, None)
            return
        previous = self._held.get(app)
        attempts = previous.attempts + 1 if previous else 1
        until = time.monotonic() + self.backoff.delay(attempts)
        self._held[app] = _Held(spec_key(desired, app), attempts, until)

    def apps(self) -> set[str]:
        return set(self._held)

    def soonest(self) -> float | None:
        """When the first held app may be tried again (monotonic seconds)."""
        return min((held.until for held in self._held.values()), default=None)


def spec_key(desired: DesiredState, app: str) -> tuple[str, ...]:
    """What an app's backoff is tied to: its spec hashes, and its pull credentials (new ones
    replace no container, but deserve a pull at once after an unauthorized one)."""
    resolved = desired.apps.get(app)
    if resolved is None:
        return ()
    return tuple(
        s.spec_hash + (f"+{s.pull_credentials.fingerprint}" if s.pull_credentials else "")
        for s in resolved.services
    )
