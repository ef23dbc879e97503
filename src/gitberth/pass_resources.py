"""A pass's steps on an engine's host resources (:class:`~gitberth.runtime.base.HostResources`):
pull what it will run before it changes anything, and release the networks nothing needs
after."""

from __future__ import annotations

from collections.abc import Iterable

from gitberth.core.plan import Action, ActionKind, DesiredState
from gitberth.core.wiring import app_network_name
from gitberth.runtime.base import HostResources, PullRequest


def pull_for_plan(
    resources: HostResources, actions: Iterable[Action], *, workers: int
) -> dict[str, str]:
    """Pull what the creates and replaces of *actions* will run, each image once and apps in
    parallel; return ``{app: reason}`` for the apps whose pull failed (they are not applied)."""
    wanted: dict[str, list[PullRequest]] = {}
    for action in actions:
        if action.kind in (ActionKind.CREATE, ActionKind.REPLACE) and action.target is not None:
            spec = action.target.spec
            request = PullRequest(spec.image, spec.pull, action.target.pull_credentials)
            wanted.setdefault(action.app, []).append(request)
    if not wanted:
        return {}
    unique = {r.key: r for requests in wanted.values() for r in requests}  # once per pass
    outcome = resources.pull_images(list(unique.values()), workers=max(workers, 4))
    failures: dict[str, str] = {}
    for app, requests in wanted.items():
        reasons = [outcome[r.key] for r in requests if outcome.get(r.key)]
        if reasons:
            failures[app] = "; ".join(dict.fromkeys(str(r) for r in reasons))
    return failures


def networks_in_use(desired: DesiredState) -> set[str]:
    """Networks a pass must not remove: every desired or held app's own network and the
    shared networks desired apps name (a held app's shared networks are kept by the engine,
    which refuses to remove a network its containers still use)."""
    names = {app_network_name(app) for app in (*desired.apps, *desired.held)}
    for app in desired.apps.values():
        for service in app.services:
            names.update(service.spec.networks)
    return names
