"""The prune guard: pure policy on whether removing whole apps is safe this pass."""

from __future__ import annotations

from gitberth.core.plan import Action, ActionKind, DesiredState, Plan
from gitberth.core.prune import guard_prune


def test_the_prune_guard_refuses_an_empty_revision_unless_opted_in() -> None:
    empty = DesiredState("e" * 40, {})
    remove = Action(ActionKind.REMOVE, "web", "web", 1, "web-1", "app removed", container_id="a")
    the_plan = Plan("e" * 40, (remove,))
    guarded, reason = guard_prune(the_plan, desired=empty, prune=True, allow_empty=False)
    assert reason is not None and "allowEmpty: true" in reason
    assert [a.kind for a in guarded.actions] == [ActionKind.KEEP]
    allowed, none = guard_prune(the_plan, desired=empty, prune=True, allow_empty=True)
    assert none is None and allowed.actions == (remove,)
    partial, why = guard_prune(the_plan, desired=empty, prune=False, allow_empty=True)
    assert why is not None and [a.kind for a in partial.actions] == [ActionKind.KEEP]


def test_removals_inside_an_app_that_stays_are_never_held_back() -> None:
    fewer = Action(ActionKind.REMOVE, "web", "web", 2, "web-2", "replicas 2 -> 1", container_id="b")
    the_plan = Plan("r" * 40, (fewer,))
    held = DesiredState("r" * 40, {}, {"web": "a secret is missing"})
    assert guard_prune(the_plan, desired=held, prune=False, allow_empty=False) == (the_plan, None)
