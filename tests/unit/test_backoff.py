"""One backoff formula for every retry: a failed pass, a failed app, a lost event stream."""

from __future__ import annotations

from gitberth.core.backoff import Backoff


def test_the_delay_doubles_from_the_base_up_to_the_limit() -> None:
    backoff = Backoff(base=0.5, limit=30.0)
    assert [backoff.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_no_failure_means_no_delay_and_a_long_outage_never_overflows() -> None:
    backoff = Backoff(base=10.0, limit=600.0)
    assert backoff.delay(0) == 0.0
    assert backoff.delay(10_000) == 600.0
