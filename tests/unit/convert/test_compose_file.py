"""Reading compose YAML: anchors and merge keys work as in compose, hostile YAML is refused
with the file and line, and nothing can expand without bound."""

from __future__ import annotations

import time

import pytest

from gitberth.convert.compose_file import (
    MAX_COMPOSE_BYTES,
    MAX_EXPANDED_VALUES,
    MAX_FLOW_NESTING,
    load_compose,
)
from gitberth.core.errors import ComposeError


def test_merge_keys_bring_anchored_keys_and_explicit_keys_win() -> None:
    compose = load_compose(
        "x-common: &common\n"
        "  restart: unless-stopped\n"
        "  environment: &env {LOG_LEVEL: info}\n"
        "services:\n"
        "  web:\n"
        "    <<: *common\n"
        "    image: acme/web:1.0\n"
        "    restart: always\n"
        "  worker:\n"
        "    <<: [*common]\n"
        "    image: acme/worker:1.0\n"
        "    environment:\n"
        "      <<: *env\n"
        "      QUEUE: jobs\n",
        file="compose.yaml",
    )

    web = compose.data["services"]["web"]
    worker = compose.data["services"]["worker"]
    assert web == {
        "image": "acme/web:1.0",
        "restart": "always",
        "environment": {"LOG_LEVEL": "info"},
    }
    assert worker["restart"] == "unless-stopped"
    assert worker["environment"] == {"QUEUE": "jobs", "LOG_LEVEL": "info"}


def test_each_key_keeps_its_line_and_a_merged_key_takes_its_services_line() -> None:
    compose = load_compose(
        "x-c: &c {restart: always}\nservices:\n  web:\n    <<: *c\n    image: a\n    ports: []\n",
        file="compose.yaml",
    )

    assert compose.line_of("web", "image") == 5
    assert compose.line_of("web", "ports") == 6
    assert compose.line_of("web", "restart") == 3


def test_a_billion_laughs_stops_at_the_expansion_cap_quickly() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    lines.append("services:\n  web:\n    image: x\n    command: *a9")
    started = time.monotonic()

    with pytest.raises(ComposeError) as caught:
        load_compose("\n".join(lines) + "\n", file="bomb.yaml")

    assert f"more than {MAX_EXPANDED_VALUES} values" in str(caught.value)
    assert str(caught.value).startswith("bomb.yaml")
    assert time.monotonic() - started < 5


def test_a_self_referencing_alias_does_not_hang() -> None:
    compose = load_compose("a: &a [*a]\nservices:\n  web: {image: x}\n", file="c.yaml")

    assert compose.data["services"]["web"] == {"image": "x"}


def test_deep_nesting_is_refused_at_its_line_quickly_not_a_crash() -> None:
    text = "services:\n  web:\n    image: a\n    command: " + "[" * 5000 + "]" * 5000 + "\n"
    started = time.monotonic()

    with pytest.raises(ComposeError, match=r"^c\.yaml:4:\d+: nested too deeply"):
        load_compose(text, file="c.yaml")
    assert time.monotonic() - started < 1


def test_nesting_up_to_the_cap_is_read() -> None:
    depth = MAX_FLOW_NESTING
    text = "services:\n  web:\n    image: a\n    labels: {a: " + "[" * (depth - 1)
    text += "x" + "]" * (depth - 1) + "}\n"

    value = load_compose(text, file="c.yaml").data["services"]["web"]["labels"]["a"]

    for _ in range(depth - 1):
        (value,) = value
    assert value == "x"


def test_a_file_over_the_size_cap_is_refused() -> None:
    text = "services:\n  web: {image: x}\n# " + "x" * MAX_COMPOSE_BYTES + "\n"

    with pytest.raises(ComposeError, match="larger than"):
        load_compose(text, file="big.yaml")


def test_a_python_tag_builds_no_object() -> None:
    with pytest.raises(ComposeError, match="not a mapping"):
        load_compose(
            "services:\n  web: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
            file="c.yaml",
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("services:\n  web:\n    image: a\n    image: b\n", "c.yaml:4:5: duplicate key"),
        ("services: [web]\n", "no `services:` mapping"),
        ("services: {}\n", "no `services:` mapping"),
        ("version: '3'\n", "no `services:` mapping"),
        ("- web\n", "must be a mapping"),
        ("", "must be a mapping"),
        ("services:\n  web: [a]\n", "c.yaml:2: service web: not a mapping"),
        ("services:\n  web: {image: a\n", "c.yaml:"),
        ("services:\n  web: *nothing\n", "c.yaml:2:"),
    ],
)
def test_unreadable_compose_files_are_refused_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ComposeError) as caught:
        load_compose(text, file="c.yaml")

    assert message in str(caught.value)


def test_a_duplicate_key_error_does_not_echo_values() -> None:
    with pytest.raises(ComposeError) as caught:
        load_compose(
            "services:\n  web:\n    environment:\n"
            "      TOKEN: s3cret-one\n      TOKEN: s3cret-two\n",
            file="c.yaml",
        )

    assert "s3cret" not in str(caught.value)
    assert "TOKEN" in str(caught.value)
