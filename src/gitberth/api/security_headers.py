"""Headers on every response: a strict Content-Security-Policy and friends, and how long the
server took to answer (``Server-Timing``).

The API answers JSON (and Prometheus text) that no browser should ever run or frame, so any
response that does not set its own policy gets ``default-src 'none'``: nothing loads, nothing
runs, nothing frames it. The dashboard sets its own, only slightly wider, policy (its own
scripts and styles, requests to this origin). There is no Swagger UI page: FastAPI's loads
its assets from a CDN; ``/openapi.json`` is served for any OpenAPI viewer instead.
"""

from __future__ import annotations

import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
DEFAULT_HEADERS = {
    "content-security-policy": API_CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


class SecurityHeadersMiddleware:
    """Add :data:`DEFAULT_HEADERS` that a response did not set itself, and ``Server-Timing:
    app;dur=<ms>``: the time from the request reaching the app to its answer starting.

    A client that waited longer than that waited for the server to get to its request (a busy
    event loop, a machine short of cores), not for the answer to be made; browsers' developer
    tools show the figure, and the 1,000-app benchmark records it beside each ``GET /apps``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                took = (time.perf_counter() - started) * 1000
                headers.append("server-timing", f"app;dur={took:.1f}")
            await send(message)

        await self.app(scope, receive, send_with_headers)
