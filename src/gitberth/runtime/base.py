"""The port between the reconciler and a container engine: observe, and apply one action.

Kept to two methods (as httpx's one-method transport) so a fake runtime for planner tests is a
few lines and a new engine (Swarm) is one class.
"""

from __future__ import annotations

from typing import Protocol

from gitberth.core.models import ObservedContainer
from gitberth.core.plan import Action

LABEL_APP = "gitberth.app"
LABEL_SERVICE = "gitberth.service"
LABEL_SPEC_HASH = "gitberth.spec-hash"
LABEL_REVISION = "gitberth.revision"
OWNERSHIP_LABELS = (LABEL_APP, LABEL_SERVICE, LABEL_SPEC_HASH, LABEL_REVISION)


class Runtime(Protocol):
    """What the reconciler needs from an engine."""

    def observe(self) -> list[ObservedContainer]:
        """Every container carrying all gitberth labels, in one engine call."""
        ...

    def apply(self, action: Action, *, revision: str) -> ObservedContainer | None:
        """Carry out one create, replace or remove; return the container now in the slot."""
        ...
