"""How many inputs each property test draws.

``make test`` draws each property's full count. ``make unit``, the quick loop while editing,
runs with ``--hypothesis-profile=quick`` and draws a third of it (never fewer than 25): every
property is still checked on dozens of generated inputs on every quick run, the generated
inputs that failed before are replayed first from Hypothesis's example database, and the full
count runs in ``make test``.
"""

from __future__ import annotations

from hypothesis import settings

QUICK_PROFILE = "quick"
QUICK_SHARE = 3
QUICK_FLOOR = 25


def _quick(full: int) -> int:
    return min(full, max(QUICK_FLOOR, full // QUICK_SHARE))


# Properties that keep Hypothesis's default count (100) draw a third of it too.
settings.register_profile(QUICK_PROFILE, max_examples=_quick(settings.default.max_examples))


def examples(full: int) -> int:
    """The number of examples to draw for a property whose full run draws *full*."""
    if settings.get_current_profile_name() == QUICK_PROFILE:
        return _quick(full)
    return full
