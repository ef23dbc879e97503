"""Deploy history: every revision applied to each app, with who changed it and what it did.

``GET /events`` answers "what did the loop do"; people ask per app: what ran before, who
changed it and why (the commit's author and subject, or the API token that deployed it), how
did it go, which containers were created, replaced or removed and why, and how long it took.
:class:`HistoryRecorder` listens to every pass (loop and ``POST /deploy``) and writes one
:class:`HistoryEntry` per app whose pass changed something or failed; an identical failure
repeated pass after pass (a held manifest, a missing secret) is written once.

Entries live in the state database (table ``deploy_history``), written through the database's
group commit, and are bounded per app by count and overall by age (``serve --history-max``,
``--history-days``). They hold what the reconciler reports, which never contains a secret
value, and the token *id* of an API deploy (never the token).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import git

from gitberth.core.sync_status import ActionRecord, iso_second
from gitberth.database import Database
from gitberth.defaults import DEFAULT_HISTORY_MAX_AGE_DAYS, DEFAULT_HISTORY_MAX_ENTRIES
from gitberth.observers import PassOutcome
from gitberth.reconciler import AppReport, AppStatus

DEFAULT_MAX_ENTRIES = DEFAULT_HISTORY_MAX_ENTRIES
DEFAULT_MAX_AGE_DAYS = DEFAULT_HISTORY_MAX_AGE_DAYS
ROLLBACK_TRAILER = "Gitberth-Rollback-Of"
"""Commit trailer naming the revision a rollback commit restores (see :mod:`gitberth.rollback`)."""
_TOKEN_AUTHOR = re.compile(r"^gitberth token (?P<id>[A-Za-z0-9_-]{1,64})$")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS deploy_history (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "app TEXT NOT NULL, at REAL NOT NULL, document TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS deploy_history_by_app ON deploy_history (app, id)",
)


@dataclass(frozen=True)
class Retention:
    """How much history is kept: per app the newest *max_entries*, none older than the age."""

    max_entries: int = DEFAULT_MAX_ENTRIES
    max_age_days: float = DEFAULT_MAX_AGE_DAYS


@dataclass(frozen=True)
class CommitInfo:
    """Who made a commit and why, as a person reads it in ``git log``."""

    author: str
    author_email: str
    subject: str
    committed_at: float
    token_id: str | None = None
    """The API token that asked for the commit (``POST /deploy``, rollback), by id."""
    rollback_of: str | None = None
    """The revision a rollback commit restores."""


UNKNOWN_COMMIT = CommitInfo(author="", author_email="", subject="", committed_at=0.0)


def commit_info(repo: git.Repo, sha: str) -> CommitInfo:
    """Author, subject and gitberth's own markers of commit *sha* in *repo*."""
    commit = repo.commit(sha)
    author = str(commit.author.name or "")
    token = _TOKEN_AUTHOR.match(author)
    message = commit.message if isinstance(commit.message, str) else commit.message.decode()
    rollback_of = None
    for line in message.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == ROLLBACK_TRAILER:
            rollback_of = value.strip() or None
    return CommitInfo(
        author=author,
        author_email=str(commit.author.email or ""),
        subject=message.splitlines()[0] if message else "",
        committed_at=float(commit.committed_date),
        token_id=token.group("id") if token else None,
        rollback_of=rollback_of,
    )


def commit_reader(git_dir: Callable[[], str]) -> Callable[[str], CommitInfo]:
    """Read commit infos through a Repo of its own per call: GitPython's readers are not
    thread-safe, and the recorder runs on the loop's thread and on deploy threads."""

    def read(sha: str) -> CommitInfo:
        repo = git.Repo(git_dir())
        try:
            return commit_info(repo, sha)
        finally:
            repo.close()

    return read


@dataclass(frozen=True)
class HistoryEntry:
    """One revision applied (or failed) for one app; ``GET /apps/{name}/history`` lists these."""

    app: str
    revision: str
    outcome: str
    """applied, removed, failed, invalid or blocked."""
    at: float
    duration_seconds: float
    trigger: str
    author: str = ""
    author_email: str = ""
    subject: str = ""
    token_id: str | None = None
    rollback_of: str | None = None
    error_code: str | None = None
    error: str | None = None
    actions: tuple[ActionRecord, ...] = ()
    id: int | None = None
    source: str = ""
    """The name of the source whose loop (or deploy) applied it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app": self.app,
            "source": self.source,
            "revision": self.revision,
            "outcome": self.outcome,
            "at": self.at,
            "time": iso_second(self.at),
            "durationSeconds": self.duration_seconds,
            "trigger": self.trigger,
            "author": self.author,
            "authorEmail": self.author_email,
            "subject": self.subject,
            "tokenId": self.token_id,
            "rollbackOf": self.rollback_of,
            "error": None
            if self.error_code is None
            else {"code": self.error_code, "message": self.error},
            "actions": [a.to_json() for a in self.actions],
        }

    def document(self) -> str:
        data = asdict(self)
        data.pop("id")
        data["actions"] = [a.to_json() for a in self.actions]
        return json.dumps(data)

    @classmethod
    def from_document(cls, text: str, *, id: int) -> HistoryEntry:
        data = json.loads(text)
        actions = tuple(ActionRecord.model_validate(a) for a in data.pop("actions", ()) or ())
        return cls(**data, actions=actions, id=id)

    def same_news(self, other: HistoryEntry) -> bool:
        """True when *other* reports the very same failure again with nothing acted, at this
        revision or a later one (another app's commit does not make a held app news)."""
        return (
            self.error_code is not None
            and not self.actions
            and not other.actions
            and (self.outcome, self.error_code, self.error)
            == (other.outcome, other.error_code, other.error)
        )


class HistoryStore:
    """The ``deploy_history`` table, bounded by :class:`Retention`."""

    def __init__(self, db: Database, *, retention: Retention | None = None) -> None:
        self._db = db
        self.retention = retention or Retention()
        with db.transaction() as connection:
            for statement in _SCHEMA:
                connection.execute(statement)

    def add(self, entries: list[HistoryEntry]) -> None:
        """Write *entries* (group commit), then drop what retention no longer keeps."""
        if not entries:
            return
        retention = self.retention

        def write(connection: sqlite3.Connection) -> None:
            connection.executemany(
                "INSERT INTO deploy_history (app, at, document) VALUES (?, ?, ?)",
                [(e.app, e.at, e.document()) for e in entries],
            )
            for app in {e.app for e in entries}:
                connection.execute(
                    "DELETE FROM deploy_history WHERE app = ? AND id NOT IN (SELECT id FROM "
                    "deploy_history WHERE app = ? ORDER BY id DESC LIMIT ?)",
                    (app, app, retention.max_entries),
                )
            cutoff = time.time() - retention.max_age_days * 86400
            connection.execute("DELETE FROM deploy_history WHERE at < ?", (cutoff,))

        self._db.grouped(write)

    def entries(self, app: str, *, limit: int = 50) -> list[HistoryEntry]:
        """The newest entries of *app*, newest first."""
        with self._db.reading() as connection:
            rows = connection.execute(
                "SELECT id, document FROM deploy_history WHERE app = ? ORDER BY id DESC LIMIT ?",
                (app, limit),
            ).fetchall()
        return [HistoryEntry.from_document(doc, id=int(i)) for i, doc in rows]

    def last(self, app: str) -> HistoryEntry | None:
        found = self.entries(app, limit=1)
        return found[0] if found else None


@dataclass
class HistoryRecorder:
    """A pass observer that writes the history of every app a pass changed or failed."""

    store: HistoryStore
    read_commit: Callable[[str], CommitInfo]
    source: str = ""
    """The name of the source whose passes and deploys this recorder hears."""
    _commits: dict[str, CommitInfo] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    """Passes (loop) and deploys (API threads) finish on different threads."""

    def pass_started(self, *, revision: str) -> None:
        return None

    def pass_finished(self, outcome: PassOutcome) -> None:
        info = self._commit(outcome.revision)
        entries: list[HistoryEntry] = []
        for report in outcome.reports_worth_telling():
            entry = _entry(report, outcome=outcome, info=info, source=self.source)
            previous = self.store.last(report.app)
            if previous is not None and previous.same_news(entry):
                continue
            entries.append(entry)
        self.store.add(entries)

    def _commit(self, sha: str) -> CommitInfo:
        with self._lock:
            known = self._commits.get(sha)
        if known is not None:
            return known
        try:
            info = self.read_commit(sha)
        except (git.GitError, ValueError, OSError):
            return UNKNOWN_COMMIT
        with self._lock:
            self._commits[sha] = info
            if len(self._commits) > 256:
                self._commits.pop(next(iter(self._commits)))
        return info


def _entry(
    report: AppReport, *, outcome: PassOutcome, info: CommitInfo, source: str
) -> HistoryEntry:
    actions = outcome.actions_of(report.app)
    took = sum(a.seconds or 0.0 for a in actions) if actions else outcome.duration_seconds
    status = AppStatus.APPLIED if report.status is AppStatus.UNCHANGED else report.status
    return HistoryEntry(
        app=report.app,
        revision=outcome.revision,
        outcome=status.value,
        at=outcome.started_at,
        duration_seconds=round(took, 3),
        trigger=outcome.trigger,
        author=info.author,
        author_email=info.author_email,
        subject=info.subject,
        token_id=info.token_id,
        rollback_of=info.rollback_of,
        error_code=(report.code or report.status.value) if report.status.is_error else None,
        error=report.message if report.status.is_error else None,
        actions=actions,
        source=source,
    )
