"""``POST /hooks/git/{source}``: a push webhook from GitHub, Gitea or GitLab makes that source's
loop fetch now (``POST /hooks/git`` does the same on a server with one source).

The hook carries no bearer token (forges cannot send one); it is authenticated instead by the
source's webhook secret, configured on both sides: GitHub and Gitea sign the body with HMAC-SHA256
(``X-Hub-Signature-256: sha256=<hex>``, ``X-Gitea-Signature: <hex>``), GitLab sends the secret
itself (``X-Gitlab-Token``). Anything else, or no configured secret, is 401 and fetches
nothing. The payload is only a hint: the loop fetches and reads the branch itself, so a forged
or replayed push can at most cause one extra fetch.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gitberth.api.json_body import read_capped_body
from gitberth.core.errors import AuthError, SourceNotFoundError
from gitberth.source_set import Source, SourceSet

MAX_HOOK_BYTES = 1024 * 1024
SIGNATURE_HEADERS = (
    "x-hub-signature-256",
    "x-gitea-signature",
    "x-gogs-signature",
    "x-gitlab-token",
)


def signature_ok(*, secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """True when *headers* prove the sender knows *secret* (constant-time comparisons).

    Headers are compared as bytes (HTTP headers arrive as latin-1): a non-ASCII header is
    simply a mismatch.
    """
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    github = headers.get("x-hub-signature-256")
    if github is not None:
        return hmac.compare_digest(_header_bytes(github), b"sha256=" + expected)
    gitea = headers.get("x-gitea-signature") or headers.get("x-gogs-signature")
    if gitea is not None:
        return hmac.compare_digest(_header_bytes(gitea), expected)
    gitlab = headers.get("x-gitlab-token")
    if gitlab is not None:
        return hmac.compare_digest(_header_bytes(gitlab), secret.encode())
    return False


def _header_bytes(value: str) -> bytes:
    return value.strip().encode("latin-1", "replace")


def router(sources: SourceSet) -> APIRouter:
    """The webhook routes: ``/hooks/git/{source}`` per source, checked against that source's
    secret (none configured: 401), and ``/hooks/git`` for a server with one source."""
    routes = APIRouter(tags=["hooks"])

    @routes.post("/hooks/git", status_code=202)
    async def git_hook(request: Request) -> JSONResponse:
        """Fetch the remote now (202), or 401 when the signature does not match.

        Refused before a byte of the body is read when webhooks are off (no secret) or no
        signature header is sent; the body is capped at 1 MiB while it streams. A server with
        several sources answers 404 here: each source has its own ``/hooks/git/{source}``.
        """
        source = sources.only
        if source is None:
            raise SourceNotFoundError(
                "this server follows several sources: send each source's webhook to "
                f"/hooks/git/<source> ({', '.join(s.name for s in sources)})"
            )
        return await _hook(request, source)

    @routes.post("/hooks/git/{source}", status_code=202)
    async def source_hook(source: str, request: Request) -> JSONResponse:
        """Fetch one source now (202): only that source's loop fetches, and the signature is
        checked against that source's own webhook secret. 404 for an unknown source."""
        found = sources.get(source)
        if found is None:
            raise SourceNotFoundError(f"no source is named {source}")
        return await _hook(request, found)

    return routes


async def _hook(request: Request, source: Source) -> JSONResponse:
    secret = source.webhook_secret
    if not secret:
        raise AuthError("webhooks are disabled: no webhook secret is configured")
    if not any(name in request.headers for name in SIGNATURE_HEADERS):
        raise AuthError("the webhook carries no signature or token header")
    body = await read_capped_body(request, limit=MAX_HOOK_BYTES)
    if not signature_ok(secret=secret, body=body, headers=dict(request.headers)):
        raise AuthError("the webhook signature does not match the configured secret")
    ref = _pushed_ref(body)
    wanted = f"refs/heads/{source.config.branch}"
    if ref is not None and ref != wanted:
        return JSONResponse({"status": "ignored", "reason": f"push to {ref}, not {wanted}"})
    source.loop.trigger("webhook", fetch=True, read=True)
    return JSONResponse({"status": "queued", "source": source.name}, status_code=202)


def _pushed_ref(body: bytes) -> str | None:
    """The ``ref`` of a push payload (the same field on all three forges), if there is one."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return None
    ref = document.get("ref") if isinstance(document, dict) else None
    return ref if isinstance(ref, str) else None
