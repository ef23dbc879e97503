"""Test-only fault injection: make this process ``kill -9`` itself at one named point.

The fault suite (``tests/e2e/test_faults.py``) must prove that a ``kill -9`` in every phase of a
replace leaves nothing the next start cannot repair. Sleeping and killing from outside would
land in a random phase; instead ``GITBERTH_TEST_KILL_AT=<point>``, read once at startup, makes
the process send itself SIGKILL when it reaches that point. Points: ``created`` (a replacement
container exists, not started), ``started`` (it runs, the old one too), ``old-stopped`` (the old
container is stopped, not yet removed). Never set it outside tests.
"""

from __future__ import annotations

import logging
import os
import signal

ENV = "GITBERTH_TEST_KILL_AT"
POINTS = frozenset({"created", "started", "old-stopped"})
_ARMED = os.environ.get(ENV) or None

logger = logging.getLogger("gitberth.faults")


def reached(point: str) -> None:
    """Kill this process with SIGKILL when the test armed *point*; otherwise do nothing."""
    if _ARMED == point:
        logger.warning("%s=%s: killing this process (kill -9) now", ENV, point)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)
