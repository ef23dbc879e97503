"""The requests a busy server answers most run on the event loop from end to end.

FastAPI runs a plain ``def`` route or dependency on a worker thread; on these machines that
hop costs about 0.5 ms of CPU per request, three times an async route's whole cost, and its
wake-up competes for the interpreter lock with the loop's apply threads. Probes, secret writes
and dashboards' polls must not pay it.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gitberth.api import routes_health, routes_secrets

HOT_ROUTES = {("GET", "/healthz"), ("POST", "/secrets"), ("PUT", "/secrets/{name}")}


def calls(dependant: Dependant) -> Iterator[object]:
    """The route's endpoint and every dependency under it."""
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from calls(sub)


def is_async(call: object) -> bool:
    if inspect.isroutine(call) or inspect.isclass(call):
        return inspect.iscoroutinefunction(call)
    return inspect.iscoroutinefunction(type(call).__call__)  # an instance, e.g. HTTPBearer


def test_probes_and_secret_writes_never_hop_to_a_worker_thread() -> None:
    hot = [
        route
        for router in (routes_health.router, routes_secrets.router)
        for route in router.routes
        if isinstance(route, APIRoute)
        and any((method, route.path) in HOT_ROUTES for method in route.methods)
    ]
    assert {route.path for route in hot} >= {"/healthz", "/secrets"}
    sync = [
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in hot
        for call in calls(route.dependant)
        if not is_async(call)
    ]
    assert sync == []
