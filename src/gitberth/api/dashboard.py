"""The dashboard: one server-rendered page at ``/`` (and ``/ui/``) plus its script and styles.

The page holds no data and needs no token: its script asks the JSON API for everything, with
the bearer token the user typed in once (kept in ``sessionStorage``), and writes every value
into text nodes, never as HTML. A strict Content-Security-Policy backs that up: scripts only
from this server's own files, no inline script or style, no plugins, no framing, and requests
only to this origin, so an injected string can neither run nor send anything away. Secret
values only ever travel from a password field into ``POST /secrets``; the API never returns
them, so the page cannot show them again.

Static files are a fixed list read from the installed package (``api/static``), so no request
path ever reaches the filesystem.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jinja2
from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

import gitberth

router = APIRouter(include_in_schema=False)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}
STATIC_MEDIA_TYPES = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "operations.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@dataclass(frozen=True)
class StaticFile:
    content: bytes
    media_type: str

    @property
    def version(self) -> str:
        """A digest of the content, appended to its URL so a new release is never cached."""
        return hashlib.sha256(self.content).hexdigest()[:12]


@cache
def static_file(name: str) -> StaticFile:
    media_type = STATIC_MEDIA_TYPES[name]
    content = resources.files("gitberth.api").joinpath("static", name).read_bytes()
    return StaticFile(content=content, media_type=media_type)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("gitberth.api", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


@cache
def render_page() -> str:
    """The page: static for a given release, so rendered once."""
    assets = {
        name: f"/ui/static/{name}?v={static_file(name).version}" for name in STATIC_MEDIA_TYPES
    }
    return (
        _environment()
        .get_template("dashboard.html")
        .render(version=gitberth.__version__, assets=assets)
    )


def _page() -> HTMLResponse:
    headers = {**SECURITY_HEADERS, "cache-control": "no-store"}
    return HTMLResponse(render_page(), headers=headers)


@router.get("/", response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    """The dashboard page."""
    return _page()


@router.get("/ui", response_class=HTMLResponse)
@router.get("/ui/", response_class=HTMLResponse)
def dashboard_ui() -> HTMLResponse:
    """The same page under ``/ui``, for proxies that route a prefix to gitberth."""
    return _page()


@router.get("/ui/static/{name}")
def dashboard_static(name: str) -> Response:
    """The page's script, styles and icon; anything else is 404."""
    if name not in STATIC_MEDIA_TYPES:
        raise HTTPException(status_code=404)
    file = static_file(name)
    headers = {**SECURITY_HEADERS, "cache-control": "public, max-age=3600"}
    return Response(file.content, media_type=file.media_type, headers=headers)
