"""``GET /apps``'s answer, serialised once per change of status instead of once per request.

A dashboard polls ``GET /apps`` several times a second, and at 1,000 apps building the answer
(every app's standing validated and serialised by FastAPI) costs tens of milliseconds of CPU
that the loop's own threads need while they converge. Status changes far less often than it
is read, so the JSON body is kept with the :attr:`~gitberth.status.StatusStore.version` of every
source's store it was built from, and built again only when one of them has moved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from gitberth.core.sync_status import AppList
from gitberth.status import StatusStore


class AppListCache:
    """The JSON body of ``GET /apps`` for a token that sees every app."""

    def __init__(self, stores: Callable[[], Sequence[StatusStore]]) -> None:
        """*stores* are every source's status stores, in the order their loops are listed."""
        self._stores = stores
        self._lock = threading.Lock()
        self._key: tuple[tuple[StatusStore, int], ...] | None = None
        self._body = b""
        self.builds = 0
        """How many times the body was built (tests count it)."""

    def body(self) -> bytes:
        """The current answer: the kept one while no store has changed, else a new one."""
        stores = list(self._stores())
        key = tuple((store, store.version) for store in stores)
        with self._lock:
            if key == self._key:
                return self._body
        # Versions and contents are read together, so the key never claims a newer state
        # than the body holds (a change meanwhile only makes the next request build again).
        snapshots = [store.snapshot() for store in stores]
        apps = sorted(
            (app for _, _, listed in snapshots for app in listed),
            key=lambda state: (state.name, state.source),
        )
        answer = AppList(sources=[loop for _, loop, _ in snapshots], apps=apps)
        body = answer.model_dump_json(by_alias=True).encode()
        with self._lock:
            self._key = tuple(
                (store, version) for store, (version, _, _) in zip(stores, snapshots, strict=True)
            )
            self._body = body
            self.builds += 1
        return body
