"""Strict JSON request bodies: what FastAPI's default body parsing lets through, refused.

FastAPI parses bodies with :func:`json.loads`, which silently keeps the last of two duplicate
keys and accepts ``NaN``. For a secret that could mean storing a value other than the one the
caller reviewed, so bodies are read here instead: size-limited while streaming, declared as
JSON, strictly decoded, and validated by a pydantic model that forbids unknown fields. Errors
name the field and never echo a value.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from gitberth.core.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

MAX_BODY_BYTES = 4 * 1024 * 1024
"""Room for a 512 KiB secret even when every character arrives as a ``\\uXXXX`` escape."""

ModelT = TypeVar("ModelT", bound=BaseModel)


def openapi_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` that documents *model* as the JSON request body of a route.

    The schema is self-contained: pydantic's ``#/$defs/...`` references would point into the
    OpenAPI document's root, where nothing is, so they are inlined.
    """
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(model)}},
        }
    }


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """*model*'s JSON schema with every ``$defs`` reference replaced by its definition."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                name = reference.removeprefix("#/$defs/")
                if name in seen:
                    raise ValueError(f"recursive schema {name} cannot be inlined")
                siblings = {k: v for k, v in node.items() if k != "$ref"}
                return {**resolve(definitions[name], (*seen, name)), **siblings}
            return {key: resolve(value, seen) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item, seen) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema, ())
    return resolved


async def read_json_body(request: Request, model: type[ModelT]) -> ModelT:
    """The body of *request* as *model*, or an :class:`InvalidRequestError` naming the field."""
    document = await read_json_document(request)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise _describe(exc) from None


async def read_json_document(request: Request) -> dict[str, Any]:
    """The body of *request* as a strictly decoded JSON object, size-limited while streaming."""
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise UnsupportedMediaTypeError(
            "the body must be JSON (content-type: application/json)", field="content-type"
        )
    return parse_json_object(await read_capped_body(request, limit=MAX_BODY_BYTES))


async def read_capped_body(request: Request, *, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it is known to exceed *limit* bytes.

    A declared ``content-length`` over the limit is refused before anything is read; a chunked
    body is counted while it streams, so at most *limit* bytes are ever held in memory.
    """
    too_large = PayloadTooLargeError(f"the body is over {_size_text(limit)}", field="body")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _size_text(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    return f"{limit // 1024} KiB"


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Decode a JSON object strictly: UTF-8, no duplicate keys, no NaN or Infinity."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the body is not UTF-8", field="body") from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
        )
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            field="body",
        ) from None
    except RecursionError:
        raise InvalidRequestError("the body is nested too deeply", field="body") from None
    if not isinstance(document, dict):
        raise InvalidRequestError("the body must be a JSON object", field="body")
    _reject_lone_surrogates(document)
    return document


MAX_NUMBER_CHARS = 64
"""Longer JSON numbers are refused: Python would spend quadratic time (or refuse) on them."""


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidRequestError(
            f"a number in the body has {len(text)} digits (at most {MAX_NUMBER_CHARS})",
            field="body",
        )
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidRequestError(
            f"a number in the body has {len(text)} characters (at most {MAX_NUMBER_CHARS})",
            field="body",
        )
    return float(text)


def _reject_lone_surrogates(document: dict[str, Any]) -> None:
    """Refuse ``\\ud800``-style escapes that encode no character: they cannot become UTF-8.

    Walked without recursion, since the parser already allowed deep nesting.
    """
    pending: list[Any] = [document]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                _check_text(key, where=key)
                pending.append(value)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            _check_text(item, where=None)


def _check_text(text: str, *, where: str | None) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        field = "body" if where is None else "body (a key)"
        raise InvalidRequestError(
            "a string in the body holds a lone UTF-16 surrogate (\\ud800-\\udfff escape), "
            "which is not a character",
            field=field,
        ) from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidRequestError(
                f"duplicate key {json.dumps(key)[:66]} in a JSON object", field="body"
            )
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise InvalidRequestError(f"{name} is not valid JSON", field="body")


def _describe(exc: ValidationError) -> InvalidRequestError:
    first = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "extra_forbidden":
        return InvalidRequestError(f"unknown field {field}", field=field)
    if first["type"] == "missing":
        return InvalidRequestError(f"{field} is required", field=field)
    return InvalidRequestError(f"{field}: {first['msg']}", field=field)
