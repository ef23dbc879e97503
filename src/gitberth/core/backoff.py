"""Exponential backoff, written once: a failed pass, one app's failed rollout and a lost engine
event stream all wait ``base * 2 ** (attempt - 1)`` seconds, capped at ``limit``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """How long to wait before the *attempt*-th retry (the first retry is attempt 1)."""

    base: float
    limit: float

    def delay(self, attempt: int) -> float:
        if attempt < 1:
            return 0.0
        # Capping the exponent keeps a long outage from overflowing the float.
        return min(self.limit, self.base * 2.0 ** min(attempt - 1, 64))
