"""The one seam between gitberth and a container engine.

The reconciler needs only :class:`Engine`'s two methods (observe, apply one action), so a fake
runtime for planner tests is a few lines. The loop, the deployer, operations and the API need
the whole :class:`Runtime`: those two plus a stream of engine events (as triggers), the
startup sweep, logs, and waiting for a crash to settle. Everything here is engine-neutral: an
adapter (``runtime/docker.py``; a Swarm one beside it) translates its engine's words into
these, and only :func:`gitberth.runtime.select.build_runtime` names a concrete class.
Networks, volumes and pulls stay optional (:class:`HostResources`): an engine without them
still plugs in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gitberth.container_logs import LogReader
from gitberth.core.backoff import Backoff
from gitberth.core.binds import BindPolicy
from gitberth.core.observed import ObservedContainer
from gitberth.core.ownership import LABEL_SOURCE
from gitberth.core.plan import Action
from gitberth.core.resolved import PullCredentials

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
    "HostResources",
    "Engine",
    "PullRequest",
    "Runtime",
    "RuntimeEvent",
    "bind_policy_of",
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


class Engine(Protocol):
    """What :func:`gitberth.reconciler.reconcile_once` needs from an engine."""

    source: str
    """The id of the source this runtime works for (``gitberth.source``, see
    :mod:`gitberth.source_id`): stamped on everything it creates."""

    def observe(self) -> list[ObservedContainer]:
        """Every container carrying all gitberth labels, in one engine call, each with the
        engine's health state (and an unhealthy one's last check output)."""
        ...

    def apply(self, action: Action, *, revision: str) -> ObservedContainer | None:
        """Carry out one create, replace or remove; return the container now in the slot."""
        ...


@dataclass(frozen=True)
class RuntimeEvent:
    """Something the engine reported that may mean "the world differs from Git".

    It only wakes the loop (passes are level-based); meanwhile status shows at once what the
    engine said about one container. *state* is what to show for it (``exited``, ``paused``);
    *gone* says it no longer exists. *crashed* marks a death gitberth did not cause: the pass
    it wakes first waits for the engine to list it stopped (see :meth:`Runtime.settle`), then
    starts it again (self-heal). *reconnected* and *interrupted* say the event stream itself
    came back or broke: after a reconnect the loop re-reads its source too.
    """

    reason: str
    app: str | None = None
    container: str | None = None
    container_id: str | None = None
    state: str | None = None
    gone: bool = False
    crashed: bool = False
    reconnected: bool = False
    interrupted: bool = False

    @property
    def marks_status(self) -> bool:
        """True when status should show this container's new state before the next pass."""
        return (
            self.app is not None
            and self.container is not None
            and (self.gone or self.state is not None)
        )


class Runtime(Engine, Protocol):
    """Everything the loop, deploys, operations and the API need from an engine."""

    @property
    def logs(self) -> LogReader:
        """What an app's containers (or tasks) printed: ``GET /apps/{name}/logs``,
        ``gitberth logs``."""
        ...

    def watch(
        self, on_event: Callable[[RuntimeEvent], None], *, stop: threading.Event, backoff: Backoff
    ) -> None:
        """Block until *stop* is set, calling *on_event* for every engine event about this
        source's containers; when the stream breaks, report ``interrupted``, reconnect after
        *backoff* and report ``reconnected`` once the engine answers again."""
        ...

    def settle(self, container_ids: Iterable[str], *, timeout: float) -> None:
        """Wait (at most *timeout*) until the engine lists these crashed containers as not
        running, so the pass a ``crashed`` event woke sees what it must restart."""
        ...

    def sweep(self) -> None:
        """At startup: remove what a crash of gitberth left behind (e.g. secret files no
        container mounts). May raise :class:`~gitberth.core.errors.RuntimeUnavailableError`."""
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


def bind_policy_of(runtime: Engine) -> BindPolicy | None:
    """The host paths *runtime* lets manifests bind-mount, or None for an engine without
    host resources (a fake runtime for planner tests)."""
    return runtime.bind_policy if isinstance(runtime, HostResources) else None
