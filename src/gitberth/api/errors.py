"""Every API error is JSON ``{"error": code, ...}``, and bad input is never a 5xx.

gitberth's own errors (:mod:`gitberth.core.errors`) map to a status here; FastAPI's validation
errors become ``400 invalid_request`` naming the field, without echoing the input; routing errors
keep their status with a JSON body. Anything unexpected becomes ``500 {"error": "internal"}`` and
is logged by type and place only, because an exception message could quote a value.

Other routers may register more specific handlers for their own error classes: Starlette picks
the handler of the nearest class in the exception's MRO.
"""

from __future__ import annotations

import logging
import traceback

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gitberth.core.errors import (
    AuthError,
    ConfigError,
    ConflictError,
    DeployError,
    GitberthError,
    InvalidRequestError,
    ManifestError,
    ManifestErrors,
    PayloadTooLargeError,
    RateLimitedError,
    ResolveError,
    RuntimeUnavailableError,
    SealedError,
    SecretNotFoundError,
    SourceNotFoundError,
    StorageFullError,
    TokenNotFoundError,
    UnknownRevisionError,
    UnknownSecretError,
    UnsealError,
    UnsupportedMediaTypeError,
)

logger = logging.getLogger(__name__)

_STATUS_BY_ERROR: tuple[tuple[type[GitberthError], int], ...] = (
    (PayloadTooLargeError, 413),
    (UnsupportedMediaTypeError, 415),
    (InvalidRequestError, 400),
    (SealedError, 503),
    (RuntimeUnavailableError, 503),
    (ResolveError, 400),
    (ManifestError, 400),
    (SecretNotFoundError, 404),
    (UnknownRevisionError, 404),
    (SourceNotFoundError, 404),
    (TokenNotFoundError, 404),
    (ConflictError, 409),
    (UnsealError, 400),
    (RateLimitedError, 429),
    (ConfigError, 409),
    (StorageFullError, 507),
    (DeployError, 409),
)
_HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
}


def error_status(exc: GitberthError) -> int:
    if isinstance(exc, AuthError):
        return 403 if exc.forbidden else 401
    for error_class, status in _STATUS_BY_ERROR:
        if isinstance(exc, error_class):
            return status
    return 500


def error_body(exc: GitberthError) -> dict[str, object]:
    """The JSON body for *exc*: the guide's exact bodies for ``sealed`` and ``not_found``."""
    if isinstance(exc, SealedError | SecretNotFoundError):
        return {"error": exc.code}
    body: dict[str, object] = {"error": exc.code, "message": str(exc)}
    if isinstance(exc, InvalidRequestError):
        body["field"] = exc.field
    if isinstance(exc, UnknownSecretError):
        body["missing"] = list(exc.missing)
    if isinstance(exc, ManifestErrors):
        body["problems"] = [str(problem) for problem in exc.problems]
    return body


async def _gitberth_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GitberthError)
    status = error_status(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, AuthError) and status == 401:
        headers["www-authenticate"] = "Bearer"
    if isinstance(exc, RateLimitedError):
        headers["retry-after"] = str(int(exc.retry_after + 0.999))
    if status == 500:
        logger.error("%s on %s %s", exc.code, request.method, request.url.path)
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    field = ".".join(str(part) for part in first.get("loc", ())) or "request"
    message = str(first.get("msg", "invalid request"))
    return JSONResponse(
        {"error": "invalid_request", "field": field, "message": f"{field}: {message}"},
        status_code=400,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error" if exc.status_code >= 500 else "http_error")
    return JSONResponse({"error": code}, status_code=exc.status_code, headers=exc.headers)


class CatchAllMiddleware:
    """Turn an unexpected exception into ``500 {"error": "internal"}`` and log it safely.

    Starlette's own last-resort handler re-raises, and the server then logs the exception's
    message; this middleware stops it here and logs only the type and the raising line.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
            logger.error(
                "unhandled %s at %s on %s %s",
                type(exc).__name__,
                where,
                scope.get("method"),
                scope.get("path"),
            )
            if started:
                return
            response = JSONResponse({"error": "internal"}, status_code=500)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GitberthError, _gitberth_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CatchAllMiddleware)
