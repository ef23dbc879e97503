"""The port between the reconciler and a container engine: observe, and apply one action.

Kept to two methods (as httpx's one-method transport) so a fake runtime for planner tests is a
few lines and a new engine (Swarm) is one class.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gitberth.core.binds import BindPolicy
from gitberth.core.models import ObservedContainer, PullCredentials
from gitberth.core.ownership import LABEL_SOURCE
from gitberth.core.plan import Action

LABEL_APP = "gitberth.app"
LABEL_SERVICE = "gitberth.service"
LABEL_SPEC_HASH = "gitberth.spec-hash"
LABEL_REVISION = "gitberth.revision"
OWNERSHIP_LABELS = (LABEL_APP, LABEL_SERVICE, LABEL_SPEC_HASH, LABEL_REVISION)
"""The labels every managed container carries; ``gitberth.source`` is added by gitberth 0.2+
(containers of older versions lack it: see :mod:`gitberth.core.ownership`)."""
LABEL_MANAGED = "gitberth.managed"
"""Marks a network or volume as created by gitberth; nothing without it is ever removed."""
LABEL_NETWORK = "gitberth.network"
LABEL_VOLUME = "gitberth.volume"

__all__ = [
    "LABEL_APP",
    "LABEL_MANAGED",
    "LABEL_NETWORK",
    "LABEL_REVISION",
    "LABEL_SERVICE",
    "LABEL_SOURCE",
    "LABEL_SPEC_HASH",
    "LABEL_VOLUME",
    "OWNERSHIP_LABELS",
    "Runtime",
    "resource_labels",
]


def resource_labels(*, source: str, app: str | None = None, **specific: str) -> dict[str, str]:
    """The labels that say who owns a resource: every container, network and volume gitberth
    creates carries its source (and its app, when it has one), and gitberth touches only
    resources whose source is its own. *specific* adds the rest (the network or volume markers);
    this is the one place to add a label to them all."""
    labels = {LABEL_SOURCE: source, **specific}
    if app is not None:
        labels[LABEL_APP] = app
    return labels


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


@dataclass(frozen=True)
class PullRequest:
    """One image a pass must make present before it starts containers of it."""

    image: str
    policy: str
    credentials: PullCredentials | None = None

    @property
    def key(self) -> tuple[str, str, str | None]:
        """Pulls with the same image, policy and credentials happen once per pass."""
        fingerprint = self.credentials.fingerprint if self.credentials else None
        return (self.image, self.policy, fingerprint)


@runtime_checkable
class HostResources(Protocol):
    """What an engine with networks, volumes and registries adds to :class:`Runtime`; the
    reconciler uses it when the runtime has it (a fake runtime for planner tests need not)."""

    bind_policy: BindPolicy

    def pull_images(
        self, requests: Sequence[PullRequest], *, workers: int
    ) -> dict[tuple[str, str, str | None], str | None]:
        """Make every image present (pulling as its policy says), in parallel; map each
        request key to None on success or the registry's reason on failure."""
        ...

    def release_networks(self, *, keep: Collection[str], changed: bool) -> None:
        """Remove gitberth's networks no container uses and *keep* does not name. Only a
        pass that *changed* something looks (one list call), so a no-op pass makes none; a
        network left by a crash between the two steps goes at the next pass with changes."""
        ...
