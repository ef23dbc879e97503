"""Secret validation: names, appIds, keys, values and sizes; strict JSON bodies.

Keys become env var names and file names under /run/secrets, so only
``[A-Za-z_][A-Za-z0-9_]*`` is accepted; errors name the field or key, never the value.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gitberth.api.json_body import parse_json_object
from gitberth.core.errors import InvalidRequestError, PayloadTooLargeError
from gitberth.core.field_types import DNS_LABEL_PATTERN, ENV_NAME_PATTERN
from gitberth.secrets.validation import MAX_SECRET_BYTES, MAX_VALUE_BYTES, validate_secret

SENTINEL = "sentinel-value-7d2e"
KEY_RE = re.compile(ENV_NAME_PATTERN)
NAME_RE = re.compile(DNS_LABEL_PATTERN)


def _valid(
    name: str = "db", app_id: str | None = None, data: dict[str, object] | None = None
) -> None:
    validate_secret(name=name, app_id=app_id, data=data if data is not None else {"K": "v"})


@given(st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,40}\Z"))
def test_env_name_keys_are_accepted(key: str) -> None:
    _valid(data={key: "v"})


@given(st.text(max_size=40))
@example("../x")
@example("a/b")
@example("1BAD")
@example("A B")
@example("..data")
@example("")
@example("KEY\x00")
@example("É")
def test_other_keys_are_refused_naming_the_data_field(key: str) -> None:
    if KEY_RE.fullmatch(key):
        return
    with pytest.raises(InvalidRequestError) as caught:
        _valid(data={key: SENTINEL})
    assert caught.value.field == "data"
    assert SENTINEL not in str(caught.value)


@given(st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z"))
def test_dns_label_names_and_app_ids_are_accepted(name: str) -> None:
    _valid(name=name, app_id=name)


@given(st.text(max_size=70))
@example("Db")
@example("-db")
@example("db-")
@example("a" * 64)
@example("db.creds")
@example("")
def test_other_names_and_app_ids_are_refused(name: str) -> None:
    if NAME_RE.fullmatch(name) and len(name) <= 63:
        return
    with pytest.raises(InvalidRequestError) as caught:
        _valid(name=name)
    assert caught.value.field == "name"
    with pytest.raises(InvalidRequestError) as caught:
        _valid(app_id=name)
    assert caught.value.field == "appId"


@given(st.text(max_size=200))
def test_any_string_without_nul_is_a_value(value: str) -> None:
    if "\x00" in value:
        with pytest.raises(InvalidRequestError) as caught:
            _valid(data={"K": value})
        assert caught.value.field == "data.K"
    else:
        _valid(data={"K": value})


def test_empty_data_and_non_string_values_are_refused() -> None:
    with pytest.raises(InvalidRequestError, match="at least one key"):
        _valid(data={})
    with pytest.raises(InvalidRequestError) as caught:
        _valid(data={"K": 5})
    assert caught.value.field == "data.K"


def test_value_and_secret_size_limits() -> None:
    _valid(data={"K": "x" * MAX_VALUE_BYTES})
    with pytest.raises(PayloadTooLargeError) as caught:
        _valid(data={"K": "x" * (MAX_VALUE_BYTES + 1)})
    assert caught.value.field == "data.K"
    with pytest.raises(PayloadTooLargeError):
        _valid(data={"K": "é" * (MAX_VALUE_BYTES // 2 + 1)})
    many = {f"K{i}": "x" * MAX_VALUE_BYTES for i in range(MAX_SECRET_BYTES // MAX_VALUE_BYTES + 1)}
    with pytest.raises(PayloadTooLargeError) as caught:
        _valid(data=many)
    assert caught.value.field == "data"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "a", "name": "b"}',
        b'{"data": {"K": "1", "K": "2"}}',
        b"[]",
        b'"text"',
        b"{",
        b"",
        b"\xff\xfe",
        b'{"v": NaN}',
        b'{"v": Infinity}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_strict_json_refuses(raw: bytes) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_json_object(raw)
    assert caught.value.field == "body"


def test_duplicate_key_error_names_the_key_not_the_value() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_json_object(b'{"data": {"K": "' + SENTINEL.encode() + b'", "K": "x"}}')
    assert '"K"' in str(caught.value)
    assert SENTINEL not in str(caught.value)


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\x00"])
def test_a_trailing_newline_does_not_sneak_past_the_patterns(suffix: str) -> None:
    with pytest.raises(InvalidRequestError):
        _valid(data={"KEY" + suffix: "v"})
    with pytest.raises(InvalidRequestError):
        _valid(name="db" + suffix)
    with pytest.raises(InvalidRequestError):
        _valid(app_id="app1" + suffix)
