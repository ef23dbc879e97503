"""A fake runtime for pure planner tests: a dict of containers that actions mutate."""

from __future__ import annotations

import itertools

from gitberth.core.models import ContainerState, ObservedContainer
from gitberth.core.plan import Action, ActionKind

_ids = itertools.count(1)


class FakeRuntime:
    """Applies plan actions to an in-memory set of containers, the way the engine would."""

    source = "fake-source"

    def __init__(self, containers: list[ObservedContainer] | None = None) -> None:
        self.containers = {c.id: c for c in containers or []}

    def observe(self) -> list[ObservedContainer]:
        return list(self.containers.values())

    def apply(self, action: Action, *, revision: str) -> ObservedContainer | None:
        if action.kind in (ActionKind.REMOVE, ActionKind.REPLACE):
            assert action.container_id is not None
            del self.containers[action.container_id]
        if action.kind in (ActionKind.CREATE, ActionKind.REPLACE):
            assert action.target is not None
            created = container(
                action.app,
                action.service,
                action.container_name,
                spec_hash=action.target.spec_hash,
                revision=revision,
            )
            self.containers[created.id] = created
            return created
        return None


def container(
    app: str,
    service: str,
    name: str,
    *,
    spec_hash: str = "h",
    revision: str = "r",
    state: ContainerState = ContainerState.RUNNING,
) -> ObservedContainer:
    return ObservedContainer(
        id=f"c{next(_ids)}",
        name=name,
        app=app,
        service=service,
        spec_hash=spec_hash,
        revision=revision,
        state=state,
    )
