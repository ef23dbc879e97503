"""The standing abuse suite: hostile inputs to every route, each refused with a 4xx and a clear
error code, never a 5xx, and never with the hostile (or any secret) value echoed back.

One table, run against a server started with ``--repo`` (so every route exists), covers sizes,
encodings, header injection, traversal in names, wrong roles, app-scoped tokens reaching out of
their scope, and expired, revoked, missing or malformed tokens. Each row names what it attacks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.e2e.conftest import Server
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

SENTINEL = "sentinel-abuse-77c2-never-echoed"
SHARED_VALUE = "sentinel-shared-value-d41e"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One hostile request and the refusal it must get."""

    id: str
    method: str
    path: str
    status: int
    code: str
    token: str = "admin"
    """admin, deployer, scoped (app1), expired, revoked, none, or a literal header value"""
    json_body: object = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


def secret(name: str = "db", **extra: object) -> dict[str, object]:
    return {"name": name, "data": {"URL": SENTINEL}, **extra}


def deploy(name: str = "app1", **extra: object) -> dict[str, object]:
    return {"name": name, "image": "gitberth/missing-image:1", **extra}


JSON = {"content-type": "application/json"}

CASES = [
    # sizes
    Case(
        "secrets body over 4 MiB",
        "POST",
        "/secrets",
        413,
        "too_large",
        content=b'{"name":"db","data":{"URL":"' + b"x" * (5 * MiB) + b'"}}',
        headers=JSON,
    ),
    Case(
        "secret value over 64 KiB",
        "POST",
        "/secrets",
        413,
        "too_large",
        json_body={"name": "db", "data": {"URL": SENTINEL + "x" * 70000}},
    ),
    Case(
        "deploy body over 4 MiB",
        "POST",
        "/deploy",
        413,
        "too_large",
        content=b'{"name":"app1","image":"' + b"x" * (5 * MiB) + b'"}',
        headers=JSON,
    ),
    Case(
        "token body over 4 MiB",
        "POST",
        "/admin/tokens",
        413,
        "too_large",
        content=b'{"role":"' + b"x" * (5 * MiB) + b'"}',
        headers=JSON,
    ),
    Case(
        "signed webhook over 1 MiB",
        "POST",
        "/hooks/git",
        413,
        "too_large",
        token="none",
        content=b"x" * (2 * MiB),
        headers={"x-gitlab-token": "wrong"},
    ),
    Case(
        "audit limit out of range",
        "GET",
        "/audit",
        400,
        "invalid_request",
        params={"limit": "100000"},
    ),
    Case(
        "events limit out of range",
        "GET",
        "/events",
        400,
        "invalid_request",
        params={"limit": "-1"},
    ),
    Case(
        "5,000-digit number",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        content=b'{"name":"db","data":{"URL":"v"},"appId":' + b"9" * 5000 + b"}",
        headers=JSON,
    ),
    Case(
        "5,000-digit number in a deploy",
        "POST",
        "/deploy",
        400,
        "invalid_request",
        content=b'{"name":"app1","image":"x","port":' + b"9" * 5000 + b"}",
        headers=JSON,
    ),
    Case(
        "deeply nested JSON",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        content=b"[" * 100000 + b"]" * 100000,
        headers=JSON,
    ),
    # encodings
    Case(
        "body not UTF-8",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        content=b'{"name":"db","data":{"URL":"\xff\xfe' + SENTINEL.encode() + b'"}}',
        headers=JSON,
    ),
    Case(
        "lone surrogate in a value",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        content=b'{"name":"db","data":{"URL":"\\ud800' + SENTINEL.encode() + b'"}}',
        headers=JSON,
    ),
    Case(
        "lone surrogate in a key",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        content=b'{"name":"db","data":{"\\udc00":"v"}}',
        headers=JSON,
    ),
    Case(
        "lone surrogate in a manifest",
        "POST",
        "/deploy",
        400,
        "invalid_request",
        content=b'{"name":"app1","image":"\\ud83d"}',
        headers=JSON,
    ),
    Case(
        "lone surrogate in a token request",
        "POST",
        "/admin/tokens",
        400,
        "invalid_request",
        content=b'{"role":"deployer","app":"\\udfff"}',
        headers=JSON,
    ),
    Case(
        "NaN",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        content=b'{"name":"db","data":{"URL":NaN}}',
        headers=JSON,
    ),
    Case(
        "duplicate keys",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        content=b'{"name":"db","data":{"URL":"a","URL":"b"}}',
        headers=JSON,
    ),
    Case(
        "not declared as JSON",
        "POST",
        "/secrets",
        415,
        "unsupported_media_type",
        content=json.dumps(secret()).encode(),
        headers={"content-type": "text/plain"},
    ),
    Case(
        "form-encoded deploy",
        "POST",
        "/deploy",
        415,
        "unsupported_media_type",
        content=b"name=app1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "JSON array body",
        "POST",
        "/admin/tokens",
        400,
        "invalid_request",
        json_body=[{"role": "admin"}],
    ),
    Case(
        "NUL in a value",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        json_body={"name": "db", "data": {"URL": SENTINEL + "\x00"}},
    ),
    # header injection
    Case(
        "CRLF in a secret name",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        json_body=secret("db\r\nx-injected: 1"),
    ),
    Case(
        "CRLF in appId query",
        "GET",
        "/secrets",
        400,
        "invalid_request",
        params={"appId": "app1\r\nx-injected: 1"},
    ),
    Case("CRLF in a path", "DELETE", "/secrets/db%0d%0ax-injected:%201", 400, "invalid_request"),
    Case(
        "CRLF in a deploy name",
        "POST",
        "/deploy",
        400,
        "invalid_manifest",
        json_body=deploy("app1\r\nx-injected: 1"),
    ),
    Case(
        "non-ASCII bearer token",
        "GET",
        "/secrets",
        401,
        "unauthorized",
        token="Bearer gbt_\u00e9\u00e9_" + SENTINEL,
    ),
    Case(
        "non-ASCII webhook signature",
        "POST",
        "/hooks/git",
        401,
        "unauthorized",
        token="none",
        content=b"{}",
        headers={"x-hub-signature-256": "sha256=\u00ff\u00fe" + SENTINEL},
    ),
    # traversal in names
    Case(
        "traversal in a secret name",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        json_body=secret("../../etc"),
    ),
    Case(
        "traversal in a secret key",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        json_body={"name": "db", "data": {"../x": SENTINEL}},
    ),
    Case(
        "slash in a secret key",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        json_body={"name": "db", "data": {"a/b": SENTINEL}},
    ),
    Case(
        "traversal in appId",
        "POST",
        "/secrets",
        400,
        "invalid_request",
        json_body=secret(appId="../app1"),
    ),
    Case("traversal in a deleted name", "DELETE", "/secrets/..%2F..%2Fetc", 404, "not_found"),
    Case("traversal in an app name", "GET", "/apps/..%2F..%2Fetc", 404, "not_found"),
    Case(
        "traversal in a deploy name",
        "POST",
        "/deploy",
        400,
        "invalid_manifest",
        json_body=deploy("../../etc"),
    ),
    Case(
        "traversal in secretFiles",
        "POST",
        "/deploy",
        400,
        "invalid_manifest",
        json_body=deploy(secretFiles=["../x"]),
    ),
    Case("traversal in a token id", "DELETE", "/admin/tokens/..%2F..%2Fetc", 404, "not_found"),
    Case("unknown token id", "DELETE", "/admin/tokens/0123456789ab", 404, "not_found"),
    # wrong roles
    *[
        Case(
            f"deployer: {method} {path}",
            method,
            path,
            403,
            "forbidden",
            token="deployer",
            json_body=body,
        )
        for method, path, body in [
            ("POST", "/admin/rotate", None),
            ("POST", "/admin/seal", None),
            ("POST", "/admin/rekey", {}),
            ("POST", "/admin/unseal", {"key": SENTINEL}),
            ("GET", "/audit", None),
            ("GET", "/admin/tokens", None),
            ("POST", "/admin/tokens", {"role": "admin"}),
            ("DELETE", "/admin/tokens/0123456789ab", None),
        ]
    ],
    # app-scoped tokens reaching out of their scope
    Case(
        "scoped: write a shared secret",
        "POST",
        "/secrets",
        403,
        "forbidden",
        token="scoped",
        json_body=secret(),
    ),
    Case(
        "scoped: write another app's secret",
        "POST",
        "/secrets",
        403,
        "forbidden",
        token="scoped",
        json_body=secret(appId="app2"),
    ),
    Case(
        "scoped: list another app's secrets",
        "GET",
        "/secrets",
        403,
        "forbidden",
        token="scoped",
        params={"appId": "app2"},
    ),
    Case(
        "scoped: delete a shared secret",
        "DELETE",
        "/secrets/shared-db",
        403,
        "forbidden",
        token="scoped",
    ),
    Case(
        "scoped: deploy another app",
        "POST",
        "/deploy",
        403,
        "forbidden",
        token="scoped",
        json_body=deploy("app2"),
    ),
    Case(
        "scoped: deploy with an ungranted shared secret",
        "POST",
        "/deploy",
        403,
        "forbidden",
        token="scoped",
        json_body=deploy(envFrom=["shared-db"]),
    ),
    Case("scoped: another app's status", "GET", "/apps/app2", 404, "not_found", token="scoped"),
    Case("scoped: server-wide metrics", "GET", "/metrics", 403, "forbidden", token="scoped"),
    Case(
        "scoped: mint a token",
        "POST",
        "/admin/tokens",
        403,
        "forbidden",
        token="scoped",
        json_body={"role": "deployer", "app": "app1", "sharedSecrets": ["shared-db"]},
    ),
    # expired, revoked, missing and malformed tokens
    *[
        Case(f"{kind}: {method} {path}", method, path, 401, code, token=kind, json_body=body)
        for kind, code in [
            ("expired", "token_expired"),
            ("revoked", "unauthorized"),
            ("none", "unauthorized"),
            ("Bearer " + "x" * 5000, "unauthorized"),
            ("Basic YWRtaW46YWRtaW4=", "unauthorized"),
            ("Bearer gbt__", "unauthorized"),
        ]
        for method, path, body in [
            ("GET", "/secrets", None),
            ("POST", "/deploy", deploy()),
            ("GET", "/apps", None),
            ("GET", "/audit", None),
        ]
    ],
]


@pytest.fixture(scope="module")
def tokens(module_repo_server: Server) -> Iterator[dict[str, str]]:
    server = module_repo_server
    with server.client() as admin:
        assert admin.post(
            "/secrets", json={"name": "shared-db", "data": {"URL": SHARED_VALUE}}
        ).is_success
        revoked = admin.post("/admin/tokens", json={"role": "admin"}).json()
        assert admin.delete(f"/admin/tokens/{revoked['id']}").status_code == 204
    found = {
        "admin": server.token,
        "deployer": server.create_token("--role", "deployer"),
        "scoped": server.create_token("--role", "deployer", "--app", "app1"),
        "expired": server.create_token("--role", "admin", "--ttl", "1s"),
        "revoked": revoked["token"],
    }

    def expired() -> bool:
        with server.client(found["expired"]) as client:
            return bool(client.get("/secrets").json().get("error") == "token_expired")

    wait_until(expired, timeout=5)
    yield found


def authorization(case: Case, tokens: dict[str, str]) -> dict[str, str]:
    if case.token == "none":
        return {}
    if case.token in tokens:
        return {"authorization": f"Bearer {tokens[case.token]}"}
    return {"authorization": case.token}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input_is_refused_with_a_clear_code(
    case: Case, module_repo_server: Server, tokens: dict[str, str]
) -> None:
    headers = {**authorization(case, tokens), **case.headers}
    encoded = {name: value.encode("utf-8") for name, value in headers.items()}
    with httpx.Client(base_url=module_repo_server.url, timeout=30) as client:
        response = client.request(
            case.method,
            case.path,
            headers=encoded,  # type: ignore[arg-type]
            params=case.params,
            json=case.json_body if case.content is None else None,
            content=case.content,
        )
    assert (response.status_code, response.json().get("error")) == (case.status, case.code), (
        response.text[:300]
    )
    assert SENTINEL not in response.text and SHARED_VALUE not in response.text
    assert "x-injected" not in response.headers
    assert "content-security-policy" in response.headers


def test_no_hostile_input_reached_the_catch_all(
    module_repo_server: Server, tokens: dict[str, str]
) -> None:
    """Runs after the table: every refusal above was a deliberate one, and nothing logged a
    hostile or secret value."""
    logs = module_repo_server.logs()
    assert "unhandled" not in logs
    assert SENTINEL not in logs and SHARED_VALUE not in logs
