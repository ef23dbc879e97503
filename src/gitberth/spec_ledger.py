"""Remember every spec gitberth has run, by spec hash, so a replacement can say what changed.

A container's labels carry only a hash. To tell a reviewer "env TOKEN changed" rather than
"spec changed", the planner needs the value-free summary of the spec behind the old hash. The
ledger keeps those summaries in the state database (inline env values, which are in Git anyway,
and HMAC fingerprints of secret values; never a secret value) so the explanation survives a
restart and works from the one-shot ``apply`` too. Only unseen hashes are written, so a no-op
pass writes nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from gitberth.core.errors import StorageFullError
from gitberth.core.resolved import SecretSourced, SummaryValue
from gitberth.database import Database

logger = logging.getLogger("gitberth.spec_ledger")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spec_summaries (
    spec_hash TEXT PRIMARY KEY,
    summary TEXT NOT NULL
)
"""


class SpecLedger(MutableMapping[str, Mapping[str, Any]]):
    """A write-through, append-mostly mapping of spec hash -> summary."""

    def __init__(self, db: Database) -> None:
        self._db = db
        with db.transaction() as conn:
            conn.execute(_SCHEMA)
        with db.reading() as conn:
            rows = conn.execute("SELECT spec_hash, summary FROM spec_summaries").fetchall()
        self._cache: dict[str, Mapping[str, Any]] = {
            str(h): _from_document(json.loads(s)) for h, s in rows
        }

    def __getitem__(self, spec_hash: str) -> Mapping[str, Any]:
        return self._cache[spec_hash]

    def __setitem__(self, spec_hash: str, summary: Mapping[str, Any]) -> None:
        self.update({spec_hash: summary})

    def update(self, other: Any = (), /, **kwargs: Mapping[str, Any]) -> None:
        """Write every new or changed summary in one transaction (a first pass at 1,000 apps
        wrote 1,000 transactions, each an fsync)."""
        items = dict(other, **kwargs)
        changed = {h: s for h, s in items.items() if self._cache.get(h) != s}
        if not changed:
            return
        self._cache.update(changed)
        try:
            with self._db.transaction() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO spec_summaries (spec_hash, summary) VALUES (?, ?)",
                    [(h, json.dumps(_to_document(s), sort_keys=True)) for h, s in changed.items()],
                )
        except StorageFullError as exc:
            # Summaries only explain replacements: a full disk must not stop a deploy.
            logger.warning("spec summaries kept in memory only: %s", exc)

    def __delitem__(self, spec_hash: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM spec_summaries WHERE spec_hash = ?", (spec_hash,))
        del self._cache[spec_hash]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cache)

    def __len__(self) -> int:
        return len(self._cache)


_SECTIONS = {"env", "files"}
"""The parts of a summary whose values may be :class:`SecretSourced`."""

_FORMAT, _TYPED = "summaryFormat", "typed-origins"
"""Marks rows whose secret origins are objects: in them every string is inline text."""

_LEGACY = re.compile(
    r"<secret (?P<secret>\S+) \((?:shared|app (?P<scope>\S+))\) #(?P<fp>[0-9a-f]+)>"
)
"""How rows written before summaries were typed spelled a secret-sourced value."""


def _to_document(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON form of a summary: a secret-sourced value is an object, an inline one a string,
    so the two can never be mistaken for each other."""
    document = {**summary, _FORMAT: _TYPED}
    for section in _SECTIONS & summary.keys():
        values: Mapping[str, SummaryValue] = summary[section]
        document[section] = {
            name: value.to_document() if isinstance(value, SecretSourced) else value
            for name, value in values.items()
        }
    return document


def _from_document(document: dict[str, Any]) -> dict[str, Any]:
    summary = dict(document)
    typed = summary.pop(_FORMAT, None) == _TYPED
    for section in _SECTIONS & document.keys():
        values: Mapping[str, Any] = document[section]
        summary[section] = {name: _value(value, typed=typed) for name, value in values.items()}
    return summary


def _value(value: Any, *, typed: bool) -> SummaryValue:
    if isinstance(value, dict):
        return SecretSourced(str(value["secret"]), value.get("scope"), str(value["fingerprint"]))
    text = str(value)
    legacy = None if typed else _LEGACY.fullmatch(text)
    if legacy is None:
        return text
    return SecretSourced(legacy["secret"], legacy["scope"], legacy["fp"])
