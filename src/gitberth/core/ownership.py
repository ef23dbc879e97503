"""Which labelled containers belong to this source, and which are someone else's.

Several gitberth instances may share one engine (a ``serve`` of one repository, a one-off
``apply`` of another). Each stamps what it creates with ``gitberth.source=<id>`` (an id of its
repository, branch and apps directory; see :mod:`gitberth.source_id`) and only ever observes,
replaces or prunes containers carrying its own id. A container of another source is never
touched, and neither is one with no source label (made by a gitberth older than the label)
unless its app is declared by this source's manifests: then it is adopted, because before the
label existed the engine had one gitberth and that gitberth was this one. A container without
the label is never pruned as "removed from Git", since nothing proves it was ever this
source's.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from gitberth.core.observed import ObservedContainer

LABEL_SOURCE = "gitberth.source"


@dataclass(frozen=True)
class Ownership:
    """The containers of one engine, split by whether this source may touch them."""

    own: list[ObservedContainer] = field(default_factory=list)
    """Stamped with this source, or unstamped but of an app this source declares (adopted)."""
    other_sources: list[ObservedContainer] = field(default_factory=list)
    unlabelled: list[ObservedContainer] = field(default_factory=list)
    """No source label and an app this source does not declare: left alone."""

    def notes(self) -> list[str]:
        """One sentence per kind of container left alone, naming their apps."""
        notes = []
        if self.other_sources:
            notes.append(
                f"{_containers(self.other_sources)} of other sources {_are(self.other_sources)} "
                "left alone "
                f"({_apps(self.other_sources)})"
            )
        if self.unlabelled:
            notes.append(
                f"{_containers(self.unlabelled)} without a source label (made by an older "
                f"gitberth) {_are(self.unlabelled)} left alone ({_apps(self.unlabelled)})"
            )
        return notes


def partition(
    observed: Iterable[ObservedContainer], *, source: str, apps: Collection[str]
) -> Ownership:
    """Split *observed* for the source *source*, which declares the apps *apps*."""
    ownership = Ownership()
    for container in observed:
        stamp = container.labels.get(LABEL_SOURCE)
        if stamp == source or (not stamp and container.app in apps):
            ownership.own.append(container)
        elif stamp:
            ownership.other_sources.append(container)
        else:
            ownership.unlabelled.append(container)
    return ownership


def _containers(containers: list[ObservedContainer]) -> str:
    return f"{len(containers)} container{'s' if len(containers) != 1 else ''}"


def _are(containers: list[ObservedContainer]) -> str:
    return "is" if len(containers) == 1 else "are"


def _apps(containers: list[ObservedContainer]) -> str:
    names = sorted({c.app for c in containers})
    return f"app{'s' if len(names) != 1 else ''} " + ", ".join(names)
