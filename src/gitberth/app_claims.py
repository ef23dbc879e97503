"""App names stay unique across the sources of one serve: a name two sources declare is held.

Every source's loop tells :class:`AppClaims` which app names its revision declares each pass;
an app also declared by another source is held in both (neither is applied, replaced nor
pruned) with an ``app_name_clash`` error naming the other source, until one of them drops it.
Which source came first does not matter: a clash means a person must decide, and applying
either would make the other's Git silently wrong. When a source's names change, the sources
that share one of the names are woken, so both sides see a clash (or its end) at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping

from gitberth.core.errors import AppNameClashError
from gitberth.core.plan import DesiredState
from gitberth.reconciler import AppReport, AppStatus, Desired

Wake = Callable[[str], None]
"""Asks a source's loop for a pass, with the reason."""


class AppClaims:
    """Which source declares which app names; thread-safe (each loop runs on its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, frozenset[str]] = {}
        self._wake: dict[str, Wake] = {}

    def register(self, source: str, wake: Wake) -> None:
        with self._lock:
            self._wake[source] = wake
            self._names.setdefault(source, frozenset())

    def claim(self, source: str, names: Collection[str]) -> dict[str, list[str]]:
        """Record that *source* declares *names*; return each of them that other sources also
        declare, with those sources. Sources sharing a name that came or went are woken."""
        new = frozenset(names)
        with self._lock:
            old = self._names.get(source, frozenset())
            self._names[source] = new
            changed = old ^ new
            to_wake = [
                wake
                for other, wake in self._wake.items()
                if other != source and changed & self._names.get(other, frozenset())
            ]
            clashes = {
                name: sorted(other for other, theirs in self._names.items() if other != source
                             and name in theirs)
                for name in new
            }  # fmt: skip
        for wake in to_wake:
            wake(f"app names of source {source} changed")
        return {name: others for name, others in clashes.items() if others}

    def holder(self, source: str) -> Callable[[Desired], Desired]:
        """The loop's hook: claim the names of a desired state and hold the clashing apps."""

        def hold(desired: Desired) -> Desired:
            declared = set(desired.state.apps) | set(desired.state.held) | set(desired.reports)
            return hold_clashes(desired, self.claim(source, declared), source=source)

        return hold

    def sources_of(self, app: str) -> list[str]:
        """The sources whose last read revision declares *app*."""
        with self._lock:
            return sorted(source for source, names in self._names.items() if app in names)


def hold_clashes(desired: Desired, clashes: Mapping[str, list[str]], *, source: str) -> Desired:
    """*desired* with every clashing app held: not applied, not pruned, an error in status."""
    if not clashes:
        return desired
    apps = {name: app for name, app in desired.state.apps.items() if name not in clashes}
    held = dict(desired.state.held)
    reports = dict(desired.reports)
    for name, others in clashes.items():
        message = (
            f"app {name} is declared by source {source} and by source {', '.join(others)}; app "
            "names must be unique across sources, so both are held until one of them drops it"
        )
        held[name] = message
        reports[name] = AppReport(
            name, AppStatus.BLOCKED, message=message, code=AppNameClashError.code
        )
    return Desired(DesiredState(desired.state.revision, apps, held), desired.loaded, reports)
