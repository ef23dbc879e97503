"""The secrets API over real HTTP: statuses, validation, auth and scope, audit, durability,
and a sentinel value that must never reach the state dir or the logs in plaintext."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from gitberth.api.app import create_app
from gitberth.api.context import ServerSettings, open_context
from gitberth.database import open_database
from gitberth.secrets import crypto
from gitberth.secrets.store import SecretStore
from gitberth.secrets.validation import MAX_SECRET_BYTES, MAX_VALUE_BYTES
from gitberth.state import StateDir
from tests.e2e.conftest import Server, StartServer, run_cli

SENTINEL = "SENTINEL-c0ffee-9b7e41-plaintext"


def post(client: httpx.Client, body: object) -> httpx.Response:
    return client.post("/secrets", json=body)


def test_create_replace_list_delete(server: Server) -> None:
    with server.client() as client:
        created = post(client, {"name": "db", "data": {"URL": "a", "USER": "u"}})
        assert created.status_code == 201
        assert created.json() == {"name": "db", "appId": None, "keys": ["URL", "USER"]}
        replaced = post(client, {"name": "db", "data": {"URL": "b"}})
        assert replaced.status_code == 200
        assert replaced.json() == {"name": "db", "appId": None, "keys": ["URL"]}
        scoped = post(client, {"name": "db", "data": {"URL": "c"}, "appId": "app1"})
        assert scoped.status_code == 201 and scoped.json()["appId"] == "app1"
        post(client, {"name": "other", "data": {"X": "1"}, "appId": "app2"})

        listed = client.get("/secrets").json()["secrets"]
        assert [(s["name"], s["appId"], s["keys"]) for s in listed] == [
            ("db", None, ["URL"]),
            ("db", "app1", ["URL"]),
            ("other", "app2", ["X"]),
        ]
        assert all(s["updatedAt"].endswith("Z") for s in listed)
        only_app1 = client.get("/secrets", params={"appId": "app1"}).json()["secrets"]
        assert [(s["name"], s["appId"]) for s in only_app1] == [("db", "app1")]

        assert client.delete("/secrets/db", params={"appId": "app1"}).status_code == 204
        assert client.delete("/secrets/db").status_code == 204
        missing = client.delete("/secrets/db")
        assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})
        assert [s["name"] for s in client.get("/secrets").json()["secrets"]] == ["other"]


def test_every_answer_says_how_long_the_server_took_to_make_it(server: Server) -> None:
    # A client that waited longer waited for a busy server to get to it (see the 1,000-app
    # benchmark), not for the answer: Server-Timing tells the two apart.
    with server.client() as client:
        for response in (
            httpx.get(f"{server.url}/healthz"),
            client.get("/apps"),
            client.post("/secrets", json={"name": "timed", "data": {"K": "v"}}),
            httpx.get(f"{server.url}/secrets"),  # 401
        ):
            [timing] = response.headers.get_list("server-timing")
            name, _, duration = timing.partition(";dur=")
            assert name == "app" and 0 <= float(duration) < 10_000


def test_health_and_openapi_under_a_strict_policy_and_no_cdn_docs_page(server: Server) -> None:
    health = httpx.get(f"{server.url}/healthz")
    assert health.json() == {"status": "ok"}
    for response in (
        health,
        httpx.get(f"{server.url}/openapi.json"),
        httpx.get(f"{server.url}/secrets"),
        httpx.get(f"{server.url}/no-such-route"),
    ):
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
    for page in ("/docs", "/redoc"):
        assert httpx.get(f"{server.url}{page}").status_code == 404, "Swagger from a CDN is gone"
    dashboard = httpx.get(f"{server.url}/")
    assert "script-src 'self'" in dashboard.headers["content-security-policy"]
    schema = httpx.get(f"{server.url}/openapi.json").json()
    assert {"/secrets", "/secrets/{name}", "/admin/unseal", "/admin/seal-status"} <= set(
        schema["paths"]
    )
    body = schema["paths"]["/secrets"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["additionalProperties"] is False


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"name": "x", "data": {"../x": SENTINEL}}, 400, "data"),
        ({"name": "x", "data": {"a/b": SENTINEL}}, 400, "data"),
        ({"name": "x", "data": {"1BAD": SENTINEL}}, 400, "data"),
        ({"name": "x", "data": {"A B": SENTINEL}}, 400, "data"),
        ({"name": "x", "data": {"..data": SENTINEL}}, 400, "data"),
        ({"name": "x", "data": {"K": SENTINEL + "\x00"}}, 400, "data.K"),
        ({"name": "x", "data": {"K": 1}}, 400, "data.K"),
        ({"name": "x", "data": {}}, 400, "data"),
        ({"name": "x", "data": [SENTINEL]}, 400, "data"),
        ({"name": "Bad_Name", "data": {"K": SENTINEL}}, 400, "name"),
        ({"name": "x", "data": {"K": SENTINEL}, "appId": "App/1"}, 400, "appId"),
        ({"name": "x", "data": {"K": SENTINEL}, "extra": SENTINEL}, 400, "extra"),
        ({"data": {"K": SENTINEL}}, 400, "name"),
        ({"name": "x", "data": {"K": SENTINEL * 3000}}, 413, "data.K"),
        (
            {"name": "x", "data": {f"K{i}": "v" * MAX_VALUE_BYTES for i in range(9)}},
            413,
            "data",
        ),
    ],
)
def test_invalid_bodies_name_the_field_never_the_value(
    module_server: Server, body: object, status: int, field: str
) -> None:
    with module_server.client() as client:
        response = post(client, body)
    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert SENTINEL not in response.text
    assert MAX_SECRET_BYTES < 9 * MAX_VALUE_BYTES


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"name":"x","name":"y","data":{"K":"v"}}', "application/json", 400),
        (b'{"name":"x","data":{"K":"v","K":"w"}}', "application/json", 400),
        (b"not json", "application/json", 400),
        (b'{"name":"x","data":{"K":"v"}}', "text/plain", 415),
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe", "application/json", 400),
        (b"", "application/json", 400),
        (b"[" * 50_000, "application/json", 400),
        (b" " * (5 * 1024 * 1024), "application/json", 413),
    ],
)
def test_non_json_and_duplicate_keys_are_refused(
    module_server: Server, content: bytes, content_type: str, status: int
) -> None:
    with module_server.client() as client:
        response = client.post("/secrets", content=content, headers={"content-type": content_type})
    assert response.status_code == status
    assert "error" in response.json()


def test_bad_path_and_query_are_400(module_server: Server) -> None:
    with module_server.client() as client:
        assert client.delete("/secrets/Not_A_Label").status_code == 400
        response = client.get("/secrets", params={"appId": "../x"})
        assert response.status_code == 400
        assert response.json()["field"] == "query.appId"
        assert client.get("/nope").json() == {"error": "not_found"}
        assert client.put("/secrets").status_code == 405


def test_auth_roles_and_app_scope(server: Server) -> None:
    deployer = server.create_token("--role", "deployer")
    scoped = server.create_token("--role", "deployer", "--app", "app1")
    admin = server.create_token("--role", "admin")
    assert httpx.get(f"{server.url}/secrets").status_code == 401
    assert httpx.get(f"{server.url}/secrets", headers={"authorization": "Bearer nope"}).json() == {
        "error": "unauthorized",
        "message": "unknown token",
    }
    with server.client(scoped) as client:
        assert post(client, {"name": "db", "data": {"K": "v"}, "appId": "app1"}).status_code == 201
        assert post(client, {"name": "db", "data": {"K": "v"}}).status_code == 403
        assert post(client, {"name": "db", "data": {"K": "v"}, "appId": "app2"}).status_code == 403
        assert client.delete("/secrets/db").status_code == 403
        assert client.get("/secrets", params={"appId": "app2"}).status_code == 403
        assert client.post("/admin/seal").status_code == 403
        assert client.get("/audit").status_code == 403
    with server.client(deployer) as client:
        assert post(client, {"name": "db", "data": {"K": "v"}}).status_code == 201
        assert post(client, {"name": "db", "data": {"K": "v"}, "appId": "app2"}).status_code == 201
        assert client.post("/admin/rotate").status_code == 403
    with server.client(scoped) as client:
        assert [(s["name"], s["appId"]) for s in client.get("/secrets").json()["secrets"]] == [
            ("db", "app1")
        ]
    with server.client(admin) as client:
        assert len(client.get("/secrets").json()["secrets"]) == 3
        assert client.get("/audit").status_code == 200


def test_audit_records_calls_with_value_hmacs_only(server: Server) -> None:
    with server.client() as client:
        post(client, {"name": "db", "data": {"K": SENTINEL}, "appId": "app1"})
        post(client, {"name": "db", "data": {"K": SENTINEL}, "appId": "app1"})
        client.get("/secrets")
        client.delete("/secrets/db", params={"appId": "app1"})
        client.delete("/secrets/db", params={"appId": "app1"})
        client.post("/admin/rotate")
        response = client.get("/audit")
    assert SENTINEL not in response.text
    entries = list(reversed(response.json()["entries"]))
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("secrets.create", "ok"),
        ("secrets.replace", "ok"),
        ("secrets.list", "ok"),
        ("secrets.delete", "ok"),
        ("secrets.delete", "not_found"),
        ("admin.rotate", "ok"),
    ]
    first, second = entries[0], entries[1]
    assert first["tokenId"] == "env" and first["scope"] == "app" and first["appId"] == "app1"
    assert first["keys"] == ["K"]
    assert first["valueHmacs"]["K"] == second["valueHmacs"]["K"]
    assert len(first["valueHmacs"]["K"]) == 64


def test_sentinel_never_reaches_state_dir_or_logs(server: Server) -> None:
    with server.client() as client:
        for index in range(30):
            body = {"name": f"s{index}", "data": {"K": f"{SENTINEL}-{index}"}, "appId": "app1"}
            assert post(client, body).status_code == 201
        post(client, {"name": "s0", "data": {"K": SENTINEL, "L": SENTINEL}, "appId": "app1"})
        post(client, {"name": "bad", "data": {"../x": SENTINEL}})
        post(client, {"name": "bad", "data": {"K": SENTINEL + "\x00"}})
        post(client, {"name": "bad", "data": {"K": SENTINEL * 5000}})
        client.post("/secrets", content=f'{{"name":"{SENTINEL}"', headers={"content-type": "x"})
        client.delete("/secrets/s1", params={"appId": "app1"})
        client.post("/admin/rotate")
        client.post("/admin/seal")
        client.post(
            "/admin/unseal", json={"key": server.state_dir.joinpath("master.key").read_text()}
        )
        post(client, {"name": "after", "data": {"K": SENTINEL}})
    server.restart()
    with server.client() as client:
        post(client, {"name": "restarted", "data": {"K": SENTINEL}})
    files = [path for path in server.state_dir.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"gitberth.db", "master.key"}
    for path in [*files, server.log_path]:
        assert SENTINEL.encode() not in path.read_bytes(), path
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_restart_keeps_every_secret(server: Server) -> None:
    with server.client() as client:
        for index in range(25):
            scope = None if index % 3 else f"app{index}"
            body = {"name": f"s{index}", "data": {"K": f"value-{index}"}, "appId": scope}
            assert post(client, body).status_code == 201
        client.post("/admin/rotate")
    server.restart()
    with server.client() as client:
        assert len(client.get("/secrets").json()["secrets"]) == 25
        assert post(client, {"name": "s1", "data": {"K": "new"}}).status_code == 200
    server.stop()
    state = StateDir(server.state_dir)
    db = open_database(state)
    store = SecretStore(db)
    store.unlock(crypto.MasterKey.from_base64(state.master_key_path.read_text()))
    wanted = [(None if i % 3 else f"app{i}", f"s{i}") for i in range(25)]
    found = store.materials(wanted)
    values = {key: material.keys["K"].value.get_secret_value() for key, material in found.items()}
    assert values == {
        key: ("new" if key == (None, "s1") else f"value-{key[1][1:]}") for key in wanted
    }
    db.close()


def test_acknowledged_concurrent_writes_and_their_audit_survive_kill_9(server: Server) -> None:
    """A 201 goes out only after the group commit that holds the write and its audit entry:
    concurrent writes (batched together), the server killed at once after the last answer,
    and every acknowledged write is there after a restart. (A process kill keeps the page
    cache, so this checks the order commit-then-answer; the fsync is synchronous=FULL's.)"""

    async def write_all() -> list[int]:
        async with httpx.AsyncClient(base_url=server.url, headers=server.auth) as client:
            responses = await asyncio.gather(
                *(
                    client.post("/secrets", json={"name": f"k{index}", "data": {"K": "v"}})
                    for index in range(40)
                )
            )
        return [response.status_code for response in responses]

    assert asyncio.run(write_all()) == [201] * 40
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=30)
    server.start()
    with server.client() as client:
        names = {entry["name"] for entry in client.get("/secrets").json()["secrets"]}
        audited = [
            entry["name"]
            for entry in client.get("/audit").json()["entries"]
            if entry["action"] == "secrets.create"
        ]
    assert names == {f"k{index}" for index in range(40)}
    assert sorted(audited) == sorted(names)


def test_on_secrets_changed_callbacks(tmp_path: Path) -> None:
    context = open_context(ServerSettings(state_dir=tmp_path / "state"), env_token="t0ken")
    changes: list[tuple[str, str | None]] = []

    def broken(name: str, app_id: str | None) -> None:
        raise RuntimeError(SENTINEL)

    context.on_secrets_changed.extend([lambda n, a: changes.append((n, a)), broken])

    async def calls() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(context))
        headers = {"authorization": "Bearer t0ken"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers
        ) as client:
            return [
                (
                    await client.post("/secrets", json={"name": "db", "data": {"K": "v"}})
                ).status_code,
                (
                    await client.post(
                        "/secrets", json={"name": "db", "data": {"K": "v"}, "appId": "app1"}
                    )
                ).status_code,
                (await client.delete("/secrets/db")).status_code,
                (await client.delete("/secrets/db")).status_code,
                (await client.post("/secrets", json={"name": "x", "data": {}})).status_code,
            ]

    try:
        assert asyncio.run(calls()) == [201, 201, 204, 404, 400]
    finally:
        context.close()
    assert changes == [("db", None), ("db", "app1"), ("db", None)]


def test_token_create_cli_prints_only_the_token(server: Server) -> None:
    token = run_cli("token", "create", "--state-dir", str(server.state_dir), "--role", "admin")
    assert token.count("\n") == 1 and token.startswith("gbt_")
    with server.client(token.strip()) as client:
        assert client.get("/audit").status_code == 200
    assert json.loads(httpx.get(f"{server.url}/admin/seal-status").text)["sealed"] is False


def test_json_logs_are_one_object_per_line_without_values(start_server: StartServer) -> None:
    server = start_server(extra_args=("--log-format", "json"))
    with server.client() as client:
        assert post(client, {"name": "db", "data": {"K": SENTINEL}}).status_code == 201
        assert post(client, {"name": "db", "data": {"../K": SENTINEL}}).status_code == 400
    server.stop()
    lines = [json.loads(line) for line in server.logs().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert any("POST /secrets" in line["message"] for line in lines)
    assert SENTINEL not in server.logs()
