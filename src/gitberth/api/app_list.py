"""``GET /apps``'s answer, serialised once per change of status instead of once per request.

A dashboard polls ``GET /apps`` several times a second, and at 1,000 apps building the answer
(every app's standing validated and serialised by FastAPI) costs tens of milliseconds of CPU
that the loop's own threads need while they converge. Status changes far less often than it
is read, so the JSON body is kept with the :attr:`~gitberth.status.StatusStore.version` of every
source's store it was built from, and built again only when one of them has moved. While
the loop converges, status moves every few polls; then only the apps whose standing changed
are serialised again (each standing is an immutable object, kept with its JSON).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from pydantic import TypeAdapter

from gitberth.core.sync_status import AppStanding, SourceStanding
from gitberth.status import StatusStore

_LOOPS = TypeAdapter(list[SourceStanding])


class AppListCache:
    """The JSON body of ``GET /apps`` for a token that sees every app."""

    def __init__(self, stores: Callable[[], Sequence[StatusStore]]) -> None:
        """*stores* are every source's status stores, in the order their loops are listed."""
        self._stores = stores
        self._lock = threading.Lock()
        self._key: tuple[tuple[StatusStore, int], ...] | None = None
        self._body = b""
        self._fragments: dict[int, tuple[AppStanding, bytes]] = {}
        self.builds = 0
        """How many times the body was built (tests count it)."""

    def body(self) -> bytes:
        """The current answer: the kept one while no store has changed, else a new one."""
        stores = list(self._stores())
        with self._lock:  # one builder at a time; a request meanwhile gets its result
            key = tuple((store, store.version) for store in stores)
            if key == self._key:
                return self._body
            # Versions and contents are read together, so the key never claims a newer state
            # than the body holds (a change meanwhile only makes the next request build).
            snapshots = [store.snapshot() for store in stores]
            apps = sorted(
                (app for _, _, listed in snapshots for app in listed),
                key=lambda state: (state.name, state.source),
            )
            loops = _LOOPS.dump_json([loop for _, loop, _ in snapshots], by_alias=True)
            self._body = b'{"sources":%s,"apps":[%s]}' % (
                loops,
                b",".join(self._serialised(apps)),
            )
            self._key = tuple(
                (store, version) for store, (version, _, _) in zip(stores, snapshots, strict=True)
            )
            self.builds += 1
            return self._body

    def _serialised(self, apps: list[AppStanding]) -> list[bytes]:
        """Each app's JSON, from the kept fragments for standings seen before (by identity:
        a changed standing is a new object)."""
        kept, fragments = self._fragments, {}
        out = []
        for state in apps:
            found = kept.get(id(state))
            if found is None or found[0] is not state:
                found = (state, state.model_dump_json(by_alias=True).encode())
            fragments[id(state)] = found
            out.append(found[1])
        self._fragments = fragments
        return out
