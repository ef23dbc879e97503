"""A resolved service becomes docker SDK create arguments without an engine."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from gitberth.core.manifests import parse_manifest
from gitberth.core.resolve import SecretKeyMaterial, SecretMaterial, resolve_app
from gitberth.runtime.docker_args import to_create_kwargs

FULL = """\
name: web
image: x:1
ports:
  - {container: 8080, host: 18080, address: 0.0.0.0}
  - {container: 9090}
healthcheck: {http: /healthz, interval: 500ms, timeout: 1s, retries: 5, startPeriod: 1m30s}
restart: onFailure
resources: {memory: 256Mi, cpus: 0.5, pids: 64}
labels: {traefik.enable: true, traefik.http.routers.web.rule: "Host(`a.example`)"}
user: "1000:1000"
workingDir: /srv
entrypoint: [/bin/sh, -c]
stopSignal: INT
stopGracePeriod: 1500ms
"""


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
        "restart_policy": {"Name": "unless-stopped"},
        "pids_limit": 1024,
        "security_opt": ["no-new-privileges"],
        "network": "gitberth-web",
        "networking_config": {"gitberth-web": {"Aliases": ["web"]}},
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


def test_every_container_option_reaches_the_create_call() -> None:
    svc = service(FULL)
    kwargs = to_create_kwargs(svc, name="web-1", revision="r", source="s", stop_grace_seconds=10)
    assert kwargs["ports"] == {"8080/tcp": ("0.0.0.0", 18080), "9090/tcp": ("127.0.0.1", None)}
    assert kwargs["healthcheck"] == {
        "test": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1"],
        "interval": 500_000_000,
        "timeout": 1_000_000_000,
        "retries": 5,
        "start_period": 90_000_000_000,
    }
    assert kwargs["restart_policy"] == {"Name": "on-failure"}
    assert kwargs["mem_limit"] == 256 * 1024**2
    assert kwargs["nano_cpus"] == 500_000_000
    assert kwargs["pids_limit"] == 64
    assert kwargs["labels"]["traefik.enable"] == "true"
    assert kwargs["labels"]["traefik.http.routers.web.rule"] == "Host(`a.example`)"
    assert kwargs["labels"]["gitberth.app"] == "web"
    assert kwargs["user"] == "1000:1000"
    assert kwargs["working_dir"] == "/srv"
    assert kwargs["entrypoint"] == ["/bin/sh", "-c"]
    assert kwargs["stop_signal"] == "SIGINT"
    assert kwargs["stop_timeout"] == 2  # 1.5s rounds up: never less grace than asked
    assert kwargs["security_opt"] == ["no-new-privileges"]


def test_the_server_publish_address_is_the_default_for_ports_without_one() -> None:
    svc = service(FULL)
    kwargs = to_create_kwargs(
        svc, name="web-1", revision="r", source="s", publish_address="0.0.0.0"
    )
    assert kwargs["ports"]["9090/tcp"] == ("0.0.0.0", None)
    assert kwargs["ports"]["8080/tcp"] == ("0.0.0.0", 18080)
    short = service("name: web\nimage: x\nport: 80\n")
    assert to_create_kwargs(short, name="w", revision="r", source="s", publish_address="::1")[
        "ports"
    ] == {"80/tcp": ("::1", None)}


def test_without_a_grace_period_the_server_grace_is_the_stop_timeout() -> None:
    svc = service("name: web\nimage: x\n")
    assert (
        to_create_kwargs(svc, name="w", revision="r", source="s", stop_grace_seconds=7)[
            "stop_timeout"
        ]
        == 7
    )
    assert "stop_timeout" not in to_create_kwargs(svc, name="w", revision="r", source="s")


@pytest.mark.parametrize(
    ("check", "test"),
    [
        ("{tcp: true}", ["CMD-SHELL", "nc -w 1 127.0.0.1 80 </dev/null || exit 1"]),
        ("{tcp: true, port: 81}", ["CMD-SHELL", "nc -w 1 127.0.0.1 81 </dev/null || exit 1"]),
        ("{command: [pg_isready, -q]}", ["CMD", "pg_isready", "-q"]),
        (
            "{http: \"/a?b=$(reboot)&c='d'\"}",
            [
                "CMD-SHELL",
                "wget -q -O /dev/null "
                "'http://127.0.0.1:80/a?b=$(reboot)&c='\"'\"'d'\"'\"'' || exit 1",
            ],
        ),
    ],
)
def test_health_checks_need_only_a_shell_and_busybox_tools(check: str, test: list[str]) -> None:
    svc = service(f"name: web\nimage: x\nport: 80\nhealthcheck: {check}\n")
    assert to_create_kwargs(svc, name="w", revision="r", source="s")["healthcheck"]["test"] == test
