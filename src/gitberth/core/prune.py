"""When removing whole apps is safe: pure policy between the plan and the engine.

A pass that could not read its source completely, or a revision with no app at all, must not
stop what runs. Like Flux's inventory diff, the decision looks only at the plan and the desired
state, so it is tested without an engine.
"""

from __future__ import annotations

from gitberth.core.plan import Action, ActionKind, DesiredState, Plan

SETTINGS_FILE = "gitberth.yaml"
"""The repository's own settings file (``allowEmpty``), named in the refusal."""


def guard_prune(
    the_plan: Plan, *, desired: DesiredState, prune: bool, allow_empty: bool
) -> tuple[Plan, str | None]:
    """Turn the removals of whole apps into keeps when pruning is not safe; say why.

    A revision with no app at all is far more often a mistake (a moved directory, a bad merge)
    than a wish to stop everything, so it removes nothing unless the repo opts in with
    ``allowEmpty: true`` in ``gitberth.yaml``. Removals inside an app that stays (fewer
    replicas, a dropped service, a left-over staging container) are never held back.
    """
    gone = [
        a
        for a in the_plan.actions
        if a.kind is ActionKind.REMOVE and a.app not in desired.apps and a.app not in desired.held
    ]
    if not gone:
        return the_plan, None
    if not prune:
        reason = "the source could not be read completely this time, so no app is removed"
    elif not desired.apps and not desired.held and not allow_empty:
        reason = (
            "this revision has no app at all, so removing every app was refused; restore the "
            f"manifests, or set `allowEmpty: true` in {SETTINGS_FILE} to really remove them all"
        )
    else:
        return the_plan, None
    held = {id(a) for a in gone}
    actions = tuple(
        Action(
            ActionKind.KEEP,
            a.app,
            a.service,
            a.replica,
            a.container_name,
            f"held: {reason}",
            container_id=a.container_id,
        )
        if id(a) in held
        else a
        for a in the_plan.actions
    )
    return Plan(revision=the_plan.revision, actions=actions), reason
