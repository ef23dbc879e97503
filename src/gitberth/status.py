"""The status of every source's apps and loop, kept for the API, the CLI and restarts.

:class:`StatusStore` keeps, per source, the latest :class:`~gitberth.core.sync_status.AppStanding`
of every app, the loop's :class:`~gitberth.core.sync_status.SourceStanding` and the recent passes
in the state database (tables ``app_states``, ``source_states`` and ``pass_events``), so
``gitberth status`` and ``GET /apps`` answer the same after a restart. The policy that turns a
pass into a standing is pure and lives in :mod:`gitberth.core.sync_status`. Messages stored
here are the reconciler's, which never hold secret values.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from typing import Protocol

from gitberth.core.observed import ObservedContainer
from gitberth.core.sync_status import (
    AppHealth,
    AppStanding,
    ContainerInfo,
    PassRecord,
    SourceStanding,
    SyncState,
    health_of,
)
from gitberth.database import Database

MAX_EVENTS = 200
"""Passes kept in the database; older ones are dropped as new ones are written."""


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS app_states (source TEXT NOT NULL, name TEXT NOT NULL, "
    "document TEXT NOT NULL, PRIMARY KEY (source, name))",
    "CREATE TABLE IF NOT EXISTS source_states (source TEXT PRIMARY KEY, document TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pass_events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "document TEXT NOT NULL)",
)


def _create_tables(connection: sqlite3.Connection) -> None:
    """Create the tables, and move the rows of a single-source state dir (tables
    ``app_status`` and ``loop_state``, before several sources) to the source they name."""
    for statement in _SCHEMA:
        connection.execute(statement)
    legacy = {
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('app_status', 'loop_state')"
        )
    }
    if legacy != {"app_status", "loop_state"}:
        return
    loop_row = connection.execute("SELECT document FROM loop_state").fetchone()
    source = str(json.loads(loop_row[0]).get("source_id") or "") if loop_row else ""
    if loop_row is not None:
        connection.execute(
            "INSERT OR IGNORE INTO source_states (source, document) VALUES (?, ?)",
            (source, loop_row[0]),
        )
    connection.execute(
        "INSERT OR IGNORE INTO app_states (source, name, document) "
        "SELECT ?, name, document FROM app_status",
        (source,),
    )
    connection.execute("DROP TABLE app_status")
    connection.execute("DROP TABLE loop_state")


def _loop_state(document: str) -> SourceStanding:
    return SourceStanding.model_validate_json(document)


class AppLookup(Protocol):
    """Anything that tells whether an app is known: one source's store, or every source's."""

    def app(self, name: str) -> AppStanding | None: ...


class StatusStore:
    """One source's app states, loop state and passes: in memory for the API, in SQLite for
    restarts.

    Each source's loop has its own store, scoped by the source id: it reads, writes and forgets
    only its own source's rows, so a loop never deletes the status of an app another source
    declares (two sources may even both declare one name: that clash is shown on both rows).
    Reads are served from memory (loaded once at open), so ``GET /apps`` never waits for the
    database while a pass writes.
    """

    def __init__(self, db: Database, *, source_id: str = "", source_name: str = "") -> None:
        self._db = db
        self._lock = threading.Lock()
        self._version = 0
        self.source_id = source_id
        self.source_name = source_name
        with db.transaction() as connection:
            _create_tables(connection)
        with db.reading() as connection:
            rows = connection.execute(
                "SELECT document FROM app_states WHERE source = ?", (source_id,)
            ).fetchall()
            loop_row = connection.execute(
                "SELECT document FROM source_states WHERE source = ?", (source_id,)
            ).fetchone()
        self._apps = {
            state.name: self._stamped(state)
            for state in (AppStanding.model_validate_json(r[0]) for r in rows)
        }
        self._loop = _loop_state(loop_row[0]) if loop_row else SourceStanding()
        self._loop.name = source_name or self._loop.name
        self._loop.source_id = source_id or self._loop.source_id

    def _stamped(self, state: AppStanding) -> AppStanding:
        if not self.source_name or state.source == self.source_name:
            return state
        return state.model_copy(update={"source": self.source_name})

    @staticmethod
    def every_source(db: Database) -> list[tuple[SourceStanding, list[AppStanding]]]:
        """What every source's loop last recorded, sources and apps by name (for ``gitberth
        status``, which reads a state dir without knowing its sources)."""
        with db.transaction() as connection:
            _create_tables(connection)
        with db.reading() as connection:
            loops = connection.execute("SELECT source, document FROM source_states").fetchall()
            rows = connection.execute("SELECT source, document FROM app_states").fetchall()
        apps: dict[str, list[AppStanding]] = {}
        for source, document in rows:
            apps.setdefault(source, []).append(AppStanding.model_validate_json(document))
        known = {source for source, _ in loops}
        listed = [(_loop_state(document), apps.get(source, [])) for source, document in loops]
        listed += [(SourceStanding(source_id=s), a) for s, a in apps.items() if s not in known]
        for _, states in listed:
            states.sort(key=lambda a: a.name)
        return sorted(listed, key=lambda item: (item[0].name, item[0].source_id))

    @staticmethod
    def forget_other_sources(db: Database, *, kept: Iterable[str]) -> None:
        """Delete the app and loop rows of every source whose id is not in *kept*.

        A serve calls this at start with its own sources, so that ``gitberth status`` (which
        reads every row of the state dir) lists the same sources and apps as ``GET /apps``
        (which asks the serve's loops): not those of a source removed from its config, whose
        rows no loop would ever update again. The pass history (``pass_events``) stays.
        """
        keep = sorted(set(kept))
        marks = ", ".join("?" for _ in keep)
        with db.transaction() as connection:
            _create_tables(connection)
            for table in ("app_states", "source_states"):
                connection.execute(f"DELETE FROM {table} WHERE source NOT IN ({marks})", keep)

    def apps(self) -> list[AppStanding]:
        with self._lock:
            return sorted(self._apps.values(), key=lambda a: a.name)

    @property
    def version(self) -> int:
        """Grows with every change of an app's state or of the loop's, so a reader can keep
        what it built from them (``GET /apps``'s answer) until the next change."""
        with self._lock:
            return self._version

    def snapshot(self) -> tuple[int, SourceStanding, list[AppStanding]]:
        """The :attr:`version`, the loop's state and every app by name, read together."""
        with self._lock:
            apps = sorted(self._apps.values(), key=lambda a: a.name)
            return self._version, self._loop.model_copy(deep=True), apps

    def app(self, name: str) -> AppStanding | None:
        with self._lock:
            return self._apps.get(name)

    def loop(self) -> SourceStanding:
        with self._lock:
            return self._loop.model_copy(deep=True)

    def counts(self) -> dict[SyncState, int]:
        with self._lock:
            counts = dict.fromkeys(SyncState, 0)
            for state in self._apps.values():
                counts[state.sync] += 1
            return counts

    def put_apps(self, states: Iterable[AppStanding], *, removed: Iterable[str] = ()) -> None:
        """Record new states and forget removed apps, in one transaction."""
        new = [self._stamped(state) for state in states]
        gone = list(removed)
        with self._lock:
            for state in new:
                self._apps[state.name] = state
            for name in gone:
                self._apps.pop(name, None)
            self._version += 1
        with self._db.transaction() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO app_states (source, name, document) VALUES (?, ?, ?)",
                [(self.source_id, s.name, json.dumps(s.to_json())) for s in new],
            )
            connection.executemany(
                "DELETE FROM app_states WHERE source = ? AND name = ?",
                [(self.source_id, n) for n in gone],
            )

    def mark_progressing(self, app: str, *, revision: str) -> None:
        """Show an app as Progressing while its actions run (memory only: it lasts seconds)."""
        with self._lock:
            current = self._apps.get(app)
            if current is None:
                current = AppStanding(
                    name=app,
                    source=self.source_name,
                    sync=SyncState.PROGRESSING,
                    health=AppHealth.UNKNOWN,
                    desired_revision=revision,
                )
            self._version += 1
            self._apps[app] = current.model_copy(
                update={
                    "sync": SyncState.PROGRESSING,
                    "desired_revision": revision,
                    "updated_at": time.time(),
                }
            )

    def mark_container(self, app: str, container: str, *, state: str | None) -> None:
        """Show at once what a Docker event says about one container (*state*, or None when
        it is gone), until the pass the event wakes records the whole truth (memory only).

        Status must never claim running, Synced or Healthy while the engine says otherwise,
        and the pass may be waiting for another app's rollout before it can look.
        """
        with self._lock:
            current = self._apps.get(app)
            if current is None or not any(c.name == container for c in current.containers):
                return
            containers = (
                tuple(
                    c if c.name != container else c.model_copy(update={"state": state})
                    for c in current.containers
                    if c.name != container or state is not None
                )
                if state is not None
                else tuple(c for c in current.containers if c.name != container)
            )
            health = health_of(containers)
            if not containers and current.containers:
                health = AppHealth.MISSING
            sync = current.sync
            if sync is SyncState.SYNCED and health is not AppHealth.HEALTHY:
                sync = SyncState.OUT_OF_SYNC
            self._version += 1
            self._apps[app] = current.model_copy(
                update={
                    "sync": sync,
                    "health": health,
                    "containers": containers,
                    "updated_at": time.time(),
                }
            )

    def observe_containers(self, app: str, containers: Iterable[ObservedContainer]) -> None:
        """Refresh the containers of an app the pass did not act on (backing off): its sync
        state stays, its containers and health are what the engine listed (memory only)."""
        with self._lock:
            current = self._apps.get(app)
            if current is None:
                return
            infos = tuple(ContainerInfo.of(c) for c in sorted(containers, key=lambda c: c.name))
            health = health_of(infos)
            sync = current.sync
            if sync is SyncState.SYNCED and health is not AppHealth.HEALTHY:
                sync = SyncState.OUT_OF_SYNC
            self._version += 1
            self._apps[app] = current.model_copy(
                update={
                    "sync": sync,
                    "health": health,
                    "containers": infos,
                    "updated_at": time.time(),
                }
            )

    def put_loop(self, state: SourceStanding) -> None:
        if self.source_name:
            state.name = self.source_name
        with self._lock:
            self._loop = state.model_copy(deep=True)
            self._version += 1
        with self._db.transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO source_states (source, document) VALUES (?, ?)",
                (self.source_id, json.dumps(state.to_json())),
            )

    def record_pass(self, state: SourceStanding, record: PassRecord) -> None:
        """The loop's state and the pass's record in one transaction: one fsync per pass."""
        with self._db.transaction():
            self.put_loop(state)
            self.add_pass(record)

    def add_pass(self, record: PassRecord) -> None:
        if self.source_name and not record.source:
            record = record.model_copy(update={"source": self.source_name})
        with self._db.transaction() as connection:
            connection.execute(
                "INSERT INTO pass_events (document) VALUES (?)", (json.dumps(record.to_json()),)
            )
            connection.execute(
                "DELETE FROM pass_events WHERE id <= (SELECT MAX(id) FROM pass_events) - ?",
                (MAX_EVENTS,),
            )

    def passes(self, *, limit: int = 50) -> list[PassRecord]:
        """The most recent passes of every source (the table is shared), newest first."""
        with self._db.reading() as connection:
            rows = connection.execute(
                "SELECT id, document FROM pass_events ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [
            PassRecord.model_validate_json(doc).model_copy(update={"id": int(i)}) for i, doc in rows
        ]
