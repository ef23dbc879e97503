"""The container image configures ``serve`` only through ``GITBERTH_*`` variables: every flag
must have one, named after it, and the README's table must list it; the image's health check
must ask the address ``serve`` listens on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from gitberth.cli import app
from gitberth.healthcheck import healthz_url

README = Path(__file__).resolve().parents[2] / "README.md"


def serve_options() -> list[Any]:
    """The click options of ``serve`` (typer may bring its own click, so no isinstance)."""
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    return [p for p in serve.params if p.param_type_name == "option" and p.name != "help"]


def test_every_serve_flag_has_its_own_gitberth_variable() -> None:
    for option in serve_options():
        flag = option.opts[0]
        expected = "GITBERTH_" + flag.removeprefix("--").replace("-", "_").upper()
        assert option.envvar == expected, f"{flag} must read {expected}"


def test_the_readme_lists_every_variable_with_its_flag() -> None:
    readme = README.read_text()
    for option in serve_options():
        assert f"| `{option.envvar}` | `{option.opts[0]}` |" in readme


def test_a_flag_wins_over_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    monkeypatch.setenv("GITBERTH_LISTEN", "not-an-address")
    result = CliRunner().invoke(app, ["serve", "--listen", "also-bad"])
    assert result.exit_code == 2 and "HOST:PORT" in result.output
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2 and "HOST:PORT" in result.output, "the variable is read"


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("0.0.0.0:8700", "http://127.0.0.1:8700/healthz"),
        ("127.0.0.1:9000", "http://127.0.0.1:9000/healthz"),
        ("[::]:8700", "http://[::1]:8700/healthz"),
        ("[::1]:8700", "http://[::1]:8700/healthz"),
        ("gitberth.local:80", "http://gitberth.local:80/healthz"),
    ],
)
def test_the_health_check_asks_the_listen_address(listen: str, url: str) -> None:
    assert healthz_url(listen) == url
