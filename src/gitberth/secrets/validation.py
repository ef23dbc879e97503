"""What a secret may look like, checked before anything is encrypted or stored.

Names and scopes are DNS labels, keys become environment variable and file names, values are
strings without NUL; sizes are capped. Every refusal names the field or the key, never a value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from gitberth.core.errors import InvalidRequestError, PayloadTooLargeError
from gitberth.core.field_types import DNS_LABEL_PATTERN, ENV_NAME_PATTERN

MAX_VALUE_BYTES = 64 * 1024
MAX_SECRET_BYTES = 512 * 1024

_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)
_ENV_NAME = re.compile(ENV_NAME_PATTERN)


def _is_dns_label(value: object) -> bool:
    """``core.models.is_dns_label`` with ``fullmatch``: ``$`` also matches before a newline."""
    return isinstance(value, str) and len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def _is_key_name(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 255 and _ENV_NAME.fullmatch(value) is not None


def validate_secret(*, name: str, app_id: str | None, data: Mapping[str, object]) -> None:
    """Refuse a secret the runtime could not use, naming the field or key, never the value.

    Keys become environment variable names and file names under ``/run/secrets``, so they must
    match ``[A-Za-z_][A-Za-z0-9_]*``: that excludes ``..``, ``/`` and anything a shell or a path
    would read differently.
    """
    if not _is_dns_label(name):
        raise InvalidRequestError(
            "name must be a DNS label: lowercase letters, digits and '-', at most 63 characters",
            field="name",
        )
    if app_id is not None and not _is_dns_label(app_id):
        raise InvalidRequestError(
            "appId must be an app name (a DNS label: lowercase letters, digits and '-')",
            field="appId",
        )
    if not data:
        raise InvalidRequestError("data must hold at least one key", field="data")
    total = 0
    for key, value in data.items():
        if not _is_key_name(key):
            raise InvalidRequestError(
                f"key {_show_key(key)} is not a valid name: use letters, digits and '_', "
                "not starting with a digit (it becomes an env var and a file name)",
                field="data",
            )
        if not isinstance(value, str):
            raise InvalidRequestError(f"the value of {key} must be a string", field=f"data.{key}")
        if "\x00" in value:
            raise InvalidRequestError(
                f"the value of {key} contains a NUL character", field=f"data.{key}"
            )
        size = len(value.encode("utf-8"))
        if size > MAX_VALUE_BYTES:
            raise PayloadTooLargeError(
                f"the value of {key} is over {MAX_VALUE_BYTES // 1024} KiB", field=f"data.{key}"
            )
        total += size + len(key)
    if total > MAX_SECRET_BYTES:
        raise PayloadTooLargeError(
            f"the secret is over {MAX_SECRET_BYTES // 1024} KiB in total", field="data"
        )


def _show_key(key: object) -> str:
    """A bad key name, quoted and cut short: key names are not secret, but may be garbage."""
    shown = json.dumps(key if isinstance(key, str) else str(key))
    return shown if len(shown) <= 66 else shown[:62] + '..."'
