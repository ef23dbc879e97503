"""Token lifecycle as operators use it: ``gitberth token create|list|revoke`` on the host and
``/admin/tokens`` over HTTP; expired and revoked tokens are refused with a clear code; every
creation and revocation is in the audit log."""

from __future__ import annotations

import json

from tests.e2e.conftest import Server, run_cli
from tests.support.waiting import wait_until


def test_cli_lists_and_revokes_and_the_server_refuses_at_once(server: Server) -> None:
    token = server.create_token("--role", "deployer", "--app", "web", "--shared-secret", "db")
    with server.client(token) as client:
        assert client.get("/secrets").status_code == 200
    listing = json.loads(run_cli("token", "list", "--json", "--state-dir", str(server.state_dir)))[
        "tokens"
    ]
    (row,) = listing
    assert (row["role"], row["app"], row["sharedSecrets"]) == ("deployer", "web", ["db"])
    assert token.split("_", 2)[2] not in json.dumps(listing)
    table = run_cli("token", "list", "--state-dir", str(server.state_dir))
    assert row["id"] in table and "deployer" in table

    run_cli("token", "revoke", row["id"], "--state-dir", str(server.state_dir))
    with server.client(token) as client:
        refused = client.get("/secrets")
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"

    with server.client() as client:
        entries = client.get("/audit").json()["entries"]
    actions = [(e["action"], e["tokenId"], e["name"]) for e in entries]
    assert ("token.create", "cli", row["id"]) in actions
    assert ("token.revoke", "cli", row["id"]) in actions


def test_an_expired_token_gets_401_token_expired(server: Server) -> None:
    token = server.create_token("--role", "admin", "--ttl", "1s")

    def refused() -> bool:
        with server.client(token) as client:
            response = client.get("/secrets")
        return response.status_code == 401 and response.json()["error"] == "token_expired"

    wait_until(refused, timeout=5)


def test_admin_api_creates_lists_and_revokes_tokens(server: Server) -> None:
    with server.client() as admin:
        created = admin.post(
            "/admin/tokens",
            json={"role": "deployer", "app": "web", "ttl": "1h", "sharedSecrets": ["db"]},
        )
        assert created.status_code == 201
        body = created.json()
        token = body.pop("token")
        assert body["expiresAt"] and body["sharedSecrets"] == ["db"]
        with server.client(token) as scoped:
            assert scoped.get("/secrets").status_code == 200
            assert scoped.get("/admin/tokens").status_code == 403
        wait_until(
            lambda: (
                next(
                    t for t in admin.get("/admin/tokens").json()["tokens"] if t["id"] == body["id"]
                )["lastUsedAt"]
                is not None
            )
        )
        listed = admin.get("/admin/tokens").json()["tokens"]
        assert token not in json.dumps(listed)
        assert admin.delete(f"/admin/tokens/{body['id']}").status_code == 204
        assert admin.delete(f"/admin/tokens/{body['id']}").status_code == 404
        with server.client(token) as scoped:
            assert scoped.get("/secrets").status_code == 401
        bad = admin.post("/admin/tokens", json={"role": "admin", "app": "web"})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
        entries = admin.get("/audit").json()["entries"]
    mine = [e for e in entries if e["name"] == body["id"]]
    assert [e["action"] for e in mine] == ["token.revoke", "token.create"]
    assert all(e["tokenId"] == "env" for e in mine)
