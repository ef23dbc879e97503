"""The port between the reconciler and a container engine: observe, and apply one action.

Kept to two methods (as httpx's one-method transport) so a fake runtime for planner tests is a
few lines and a new engine (Swarm) is one class.
"""

from __future__ import annotations

from typing import Protocol

from gitberth.core.models import ObservedContainer
from gitberth.core.ownership import LABEL_SOURCE
from gitberth.core.plan import Action

LABEL_APP = "gitberth.app"
LABEL_SERVICE = "gitberth.service"
LABEL_SPEC_HASH = "gitberth.spec-hash"
LABEL_REVISION = "gitberth.revision"
OWNERSHIP_LABELS = (LABEL_APP, LABEL_SERVICE, LABEL_SPEC_HASH, LABEL_REVISION)
"""The labels every managed container carries; ``gitberth.source`` is added by gitberth 0.2+
(containers of older versions lack it: see :mod:`gitberth.core.ownership`)."""

__all__ = [
    "LABEL_APP",
    "LABEL_REVISION",
    "LABEL_SERVICE",
    "LABEL_SOURCE",
    "LABEL_SPEC_HASH",
    "OWNERSHIP_LABELS",
    "Runtime",
    "resource_labels",
]


def resource_labels(*, source: str, app: str) -> dict[str, str]:
    """The labels that say who owns a resource: every container, network and volume gitberth
    creates carries them, and gitberth touches only resources whose source is its own."""
    return {LABEL_APP: app, LABEL_SOURCE: source}


class Runtime(Protocol):
    """What the reconciler needs from an engine."""

    source: str
    """The id of the source this runtime works for (``gitberth.source``, see
    :mod:`gitberth.source_id`): stamped on everything it creates."""

    def observe(self) -> list[ObservedContainer]:
        """Every container carrying all gitberth labels, in one engine call."""
        ...

    def apply(self, action: Action, *, revision: str) -> ObservedContainer | None:
        """Carry out one create, replace or remove; return the container now in the slot."""
        ...
