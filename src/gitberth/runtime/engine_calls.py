"""What kind of engine request a request is, for counting and timing them.

Both runtimes count their engine requests (tests prove what a pass costs with the counts), and
the benchmarks time them: all three name a request alike, by method and path with the API
version dropped and object ids collapsed, so ``/containers/<id>/start`` adds up as one kind.
"""

from __future__ import annotations

_BY_ID = frozenset({"containers", "services", "secrets", "networks"})
"""Collections whose second path segment is an object's id (or name)."""

_NOT_IDS = frozenset({"json", "create", "prune"})
"""Second segments that name an endpoint of the collection itself."""


def request_kind(method: str, path_url: str) -> str:
    """``METHOD /path`` of a request, e.g. ``POST /containers/{id}/start``."""
    segments = [s for s in path_url.split("?", 1)[0].split("/") if s]
    if segments and segments[0].startswith("v1."):
        segments = segments[1:]
    if len(segments) >= 2 and segments[0] in _BY_ID and segments[1] not in _NOT_IDS:
        segments[1] = "{id}"
    return f"{method} /{'/'.join(segments)}"
