"""``serve --listen`` beyond loopback warns that the API speaks plain HTTP (no TLS)."""

from __future__ import annotations

import pytest

from gitberth.cli.serve_command import plaintext_warning


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_is_quiet(host: str) -> None:
    assert plaintext_warning(host) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "gitberth.example"])
def test_anything_else_warns_about_plain_http(host: str) -> None:
    warning = plaintext_warning(host)
    assert warning is not None
    assert "no TLS" in warning and "proxy" in warning and host in warning
