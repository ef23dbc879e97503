"""``gitberth rekey`` / ``POST /admin/rekey`` on a running server: a new master key (key file or
shares), the old one useless, every secret still there, and the call in the audit log."""

from __future__ import annotations

import re

from tests.e2e.conftest import Server, StartServer, run_cli
from tests.e2e.test_seal import shamir_server

SENTINEL = "sentinel-rekey-e2e-0c4d"


def test_rekey_writes_a_new_key_file_and_the_old_one_no_longer_unseals(server: Server) -> None:
    key_file = server.state_dir / "master.key"
    old_key = key_file.read_text().strip()
    with server.client() as client:
        assert client.post("/secrets", json={"name": "db", "data": {"URL": SENTINEL}}).is_success
    printed = run_cli("rekey", env=server.cli_env())
    assert "new master.key" in printed
    assert key_file.read_text().strip() != old_key
    assert key_file.stat().st_mode & 0o777 == 0o600

    with server.client() as client:
        assert client.post("/admin/seal").is_success
        wrong = client.post("/admin/unseal", json={"key": old_key})
        assert (wrong.status_code, wrong.json()["error"]) == (400, "unseal_failed")
        assert client.post("/admin/unseal", json={"key": key_file.read_text()}).is_success
        assert [s["name"] for s in client.get("/secrets").json()["secrets"]] == ["db"]
        entries = client.get("/audit").json()["entries"]
    rekeys = [e for e in entries if e["action"] == "admin.rekey"]
    assert rekeys and rekeys[0]["detail"] == {"mode": "auto", "shares": "1", "threshold": "1"}
    server.restart()
    with server.client() as client:
        assert client.get("/secrets").status_code == 200, "the new key file auto-unseals"
    assert SENTINEL not in server.logs()


def test_rekey_to_new_shares_over_the_api(start_server: StartServer) -> None:
    server, old_shares = shamir_server(start_server, shares=3, threshold=2)
    with server.client() as client:
        for share in old_shares[:2]:
            client.post("/admin/unseal", json={"key": share})
        assert client.post("/secrets", json={"name": "db", "data": {"URL": SENTINEL}}).is_success
        deployer = server.create_token("--role", "deployer")
        with server.client(deployer) as other:
            assert other.post("/admin/rekey", json={}).status_code == 403
        bad = client.post("/admin/rekey", json={"shares": 2, "threshold": 5})
        assert (bad.status_code, bad.json()["error"]) in {(400, "invalid_request")}
        answer = client.post("/admin/rekey", json={"shares": 4, "threshold": 2}).json()
        assert (answer["mode"], answer["shares"], len(answer["newShares"])) == ("shamir", 4, 4)
        client.post("/admin/seal")
        answers = [client.post("/admin/unseal", json={"key": s}) for s in old_shares[:2]]
        assert [a.status_code for a in answers] == [200, 400], "two old shares rebuild nothing"
        assert answers[1].json()["error"] == "unseal_failed"
        for share in answer["newShares"][1:3]:
            client.post("/admin/unseal", json={"key": share})
        assert client.get("/admin/seal-status").json()["sealed"] is False
        assert [s["name"] for s in client.get("/secrets").json()["secrets"]] == ["db"]
    for path in server.state_dir.iterdir():
        for share in answer["newShares"]:
            assert share.encode() not in path.read_bytes()
    printed = run_cli("rekey", "--shares", "2", "--threshold", "2", env=server.cli_env())
    assert len(re.findall(r"^share \d+: \S+$", printed, flags=re.MULTILINE)) == 2
