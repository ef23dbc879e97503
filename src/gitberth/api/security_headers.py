"""Security headers on every response: a strict Content-Security-Policy and friends.

The API answers JSON (and Prometheus text) that no browser should ever run or frame, so any
response that does not set its own policy gets ``default-src 'none'``: nothing loads, nothing
runs, nothing frames it. The dashboard sets its own, only slightly wider, policy (its own
scripts and styles, requests to this origin). There is no Swagger UI page: FastAPI's loads
its assets from a CDN; ``/openapi.json`` is served for any OpenAPI viewer instead.
"""

from __future__ import annotations

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
    """Add :data:`DEFAULT_HEADERS` that a response did not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
