"""A resolved service becomes docker SDK create arguments without an engine."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from gitberth.core.manifests import parse_manifest
from gitberth.core.resolve import SecretKeyMaterial, SecretMaterial, resolve_app
from gitberth.runtime.docker_args import to_create_kwargs


def service(text: str, secrets: dict | None = None):  # type: ignore[no-untyped-def, type-arg]
    return resolve_app(parse_manifest(text, file="apps/x.yaml"), secrets=secrets or {}).services[0]


def test_labels_ports_env_and_command() -> None:
    svc = service("name: web\nimage: x:1\nport: 8080\nenv: {A: '1'}\ncommand: [sh, -c, 'true']\n")
    kwargs = to_create_kwargs(svc, name="web-1", revision="abc", source="s")
    assert kwargs == {
        "image": "x:1",
        "name": "web-1",
        "labels": {
            "gitberth.app": "web",
            "gitberth.source": "s",
            "gitberth.service": "web",
            "gitberth.spec-hash": svc.spec_hash,
            "gitberth.revision": "abc",
        },
        "environment": {"A": "1"},
        "command": ["sh", "-c", "true"],
        "ports": {"8080/tcp": ("127.0.0.1", None)},
        "detach": True,
    }


def test_a_fixed_host_port_is_published_on_loopback_only() -> None:
    svc = service("name: web\nimage: x\nport: 80\nhostPort: 18080\n")
    assert to_create_kwargs(svc, name="web-1", revision="r", source="s")["ports"] == {
        "80/tcp": ("127.0.0.1", 18080)
    }


def test_secret_files_mount_the_secrets_dir_read_only() -> None:
    material = SecretMaterial(
        name="tls", app_id=None, keys={"CERT": SecretKeyMaterial(SecretStr("pem"), "f1")}
    )
    svc = service("name: web\nimage: x\nsecretFiles: [tls]\n", {(None, "tls"): material})
    kwargs = to_create_kwargs(
        svc, name="web-1", revision="r", source="s", secrets_dir="/run/g/web-1"
    )
    assert kwargs["volumes"] == {"/run/g/web-1": {"bind": "/run/secrets", "mode": "ro"}}
    assert "pem" not in repr(kwargs["labels"])
    with pytest.raises(ValueError, match="needs secret files"):
        to_create_kwargs(svc, name="web-1", revision="r", source="s")
