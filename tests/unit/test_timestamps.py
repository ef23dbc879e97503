"""One spelling of times for the API, the audit log, tokens and backups: UTC with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from gitberth.core.timestamps import parse_zoned, utc_text

NOON = datetime(2026, 1, 31, 12, 0, 0, 250_000, tzinfo=UTC)


def test_times_are_written_in_utc_with_a_z() -> None:
    assert utc_text(NOON) == "2026-01-31T12:00:00Z"
    assert utc_text(NOON, precision="milliseconds") == "2026-01-31T12:00:00.250Z"


def test_an_offset_time_is_written_as_the_same_instant_in_utc() -> None:
    berlin = NOON.astimezone(timezone(timedelta(hours=1)))
    assert utc_text(berlin) == "2026-01-31T12:00:00Z"


def test_what_is_written_reads_back_as_the_same_instant() -> None:
    assert parse_zoned(utc_text(NOON, precision="milliseconds")) == NOON.timestamp()
    assert parse_zoned("2026-01-31T13:00:00+01:00") == parse_zoned("2026-01-31T12:00:00Z")


def test_a_time_without_a_zone_or_no_time_reads_as_none() -> None:
    assert parse_zoned("2026-01-31T12:00:00") is None
    assert parse_zoned("yesterday") is None
    assert parse_zoned("") is None
    assert parse_zoned(None) is None
