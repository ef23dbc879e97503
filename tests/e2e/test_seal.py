"""Seal and unseal against a real server, from the API and from the CLI."""

from __future__ import annotations

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from gitberth.secrets import crypto
from tests.e2e.conftest import GITBERTH, Server, StartServer, run_cli


def seal_status(server: Server) -> dict[str, object]:
    response = httpx.get(f"{server.url}/admin/seal-status")
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def shamir_server(
    start_server: StartServer, *, shares: int, threshold: int
) -> tuple[Server, list[str]]:
    printed: list[str] = []

    def init(state_dir: Path) -> None:
        printed.append(
            run_cli(
                "init",
                "--state-dir",
                str(state_dir),
                "--shares",
                str(shares),
                "--threshold",
                str(threshold),
            )
        )

    server = start_server(setup=init)
    return server, re.findall(r"^share \d+: (\S+)$", printed[0], flags=re.MULTILINE)


def test_default_setup_is_never_sealed(server: Server) -> None:
    assert seal_status(server) == {
        "sealed": False,
        "initialized": True,
        "threshold": 1,
        "shares": 1,
        "progress": 0,
    }
    key_file = server.state_dir / "master.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(crypto.MasterKey.from_base64(key_file.read_text()).raw()) == 32
    server.restart()
    assert seal_status(server)["sealed"] is False


def test_shamir_setup_starts_sealed_and_unseals_from_the_cli(start_server: StartServer) -> None:
    server, shares = shamir_server(start_server, shares=3, threshold=2)
    assert len(shares) == 3
    assert not (server.state_dir / "master.key").exists()
    for path in server.state_dir.iterdir():
        for share in shares:
            assert share.encode() not in path.read_bytes(), "shares are stored nowhere"
    assert seal_status(server) == {
        "sealed": True,
        "initialized": True,
        "threshold": 2,
        "shares": 3,
        "progress": 0,
    }
    with server.client() as client:
        for response in (
            client.post("/secrets", json={"name": "db", "data": {"K": "v"}}),
            client.get("/secrets"),
            client.delete("/secrets/db"),
            client.delete("/secrets/db", params={"appId": "app1"}),
            client.post("/admin/rotate"),
        ):
            assert (response.status_code, response.json()) == (503, {"error": "sealed"})

    env = server.cli_env()
    assert run_cli("seal-status", env=env).strip() == "sealed (progress 0/2 shares)"
    assert run_cli("unseal", "--key", shares[2], env=env).strip() == "sealed (progress 1/2 shares)"
    assert run_cli("unseal", "--key", shares[2], env=env).strip() == "sealed (progress 1/2 shares)"
    assert run_cli("unseal", "--key", "-", env=env, stdin=shares[0] + "\n").strip() == "unsealed"
    with server.client() as client:
        assert client.post("/secrets", json={"name": "db", "data": {"K": "v"}}).status_code == 201

    assert run_cli("seal", env=env).strip() == "sealed (progress 0/2 shares)"
    with server.client() as client:
        assert client.get("/secrets").status_code == 503
        assert client.post("/admin/unseal", json={"key": shares[1]}).json()["progress"] == 1
        assert client.post("/admin/unseal", json={"key": shares[0]}).json()["sealed"] is False
        assert [s["name"] for s in client.get("/secrets").json()["secrets"]] == ["db"]

    server.restart()
    assert seal_status(server)["sealed"] is True, "a Shamir store starts sealed at every start"


def test_wrong_share_or_key_is_400_and_resets_progress(
    start_server: StartServer, tmp_path: Path
) -> None:
    server, shares = shamir_server(start_server, shares=5, threshold=3)
    other_split_share = share_from_another_split(tmp_path / "elsewhere")
    with server.client() as client:
        assert client.post("/admin/unseal", json={"key": shares[0]}).json()["progress"] == 1
        assert client.post("/admin/unseal", json={"key": shares[1]}).json()["progress"] == 2
        wrong = client.post("/admin/unseal", json={"key": other_split_share})
        assert wrong.status_code == 400 and wrong.json()["error"] == "unseal_failed"
        assert seal_status(server)["progress"] == 0
        for bad in (crypto.MasterKey.generate().to_base64(), "not base64!", ""):
            response = client.post("/admin/unseal", json={"key": bad})
            assert response.status_code == 400, bad
        assert client.post("/admin/unseal", json={"key": 5}).status_code == 400
        assert client.post("/admin/unseal", json={"key": "x", "extra": 1}).status_code == 400
        for share in shares[2:]:
            client.post("/admin/unseal", json={"key": share})
        assert seal_status(server)["sealed"] is False
        audit = client.get("/audit").json()["entries"]
    outcomes = [entry["outcome"] for entry in audit if entry["action"] == "admin.unseal"]
    assert "unseal_failed" in outcomes and outcomes[0] == "unsealed"
    for share in shares:
        assert share not in str(audit)
        assert share not in server.logs()


def share_from_another_split(state_dir: Path) -> str:
    """Share 3 of a 3-of-5 split made for another state dir: well-formed, but the wrong key."""
    printed = run_cli("init", "--state-dir", str(state_dir), "--shares", "5", "--threshold", "3")
    return re.findall(r"^share 3: (\S+)$", printed, flags=re.MULTILINE)[0]


def test_unseal_attempts_are_rate_limited(start_server: StartServer) -> None:
    server, _ = shamir_server(start_server, shares=3, threshold=2)
    with server.client() as client:
        statuses = [
            client.post("/admin/unseal", json={"key": "bad"}).status_code for _ in range(25)
        ]
        limited = client.post("/admin/unseal", json={"key": "bad"})
    assert statuses[:20] == [400] * 20
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


def test_seal_and_unseal_need_an_admin_token(server: Server) -> None:
    deployer = server.create_token("--role", "deployer")
    key = (server.state_dir / "master.key").read_text()
    with server.client(deployer) as client:
        assert client.post("/admin/seal").status_code == 403
        assert client.post("/admin/unseal", json={"key": key}).status_code == 403
    assert httpx.post(f"{server.url}/admin/seal").status_code == 401
    assert seal_status(server)["sealed"] is False


def test_wrong_master_key_file_starts_sealed(start_server: StartServer) -> None:
    server = start_server()
    right_key = (server.state_dir / "master.key").read_text()
    server.stop()
    (server.state_dir / "master.key").write_text(crypto.MasterKey.generate().to_base64())
    server.start()
    assert seal_status(server)["sealed"] is True
    assert "does not unseal" in server.logs()
    with server.client() as client:
        assert client.post("/admin/unseal", json={"key": right_key}).json()["sealed"] is False


def test_seal_while_requests_are_in_flight(server: Server) -> None:
    key = (server.state_dir / "master.key").read_text()

    def write(index: int) -> tuple[int, int]:
        with server.client() as client:
            body = {"name": f"s{index}", "data": {"K": f"v{index}"}}
            return index, client.post("/secrets", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(write, index) for index in range(400)]
        while sum(future.done() for future in futures) < 20:
            time.sleep(0.005)
        with server.client() as client:
            assert client.post("/admin/seal").json()["sealed"] is True
        results = [future.result() for future in futures]
    statuses = {status for _, status in results}
    assert statuses == {201, 503}, statuses
    with server.client() as client:
        assert client.post("/admin/unseal", json={"key": key}).json()["sealed"] is False
        stored = {s["name"] for s in client.get("/secrets").json()["secrets"]}
    assert stored == {f"s{index}" for index, status in results if status == 201}
    assert "unhandled" not in server.logs()


def test_init_and_token_create_refuse_bad_parameters(tmp_path: Path) -> None:
    def fails(*args: str) -> str:
        result = subprocess.run(
            [GITBERTH, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode != 0
        return " ".join(result.stderr.split())

    state = str(tmp_path / "state")
    assert "threshold" in fails("init", "--state-dir", state, "--shares", "2", "--threshold", "3")
    assert "threshold of 1" in fails(
        "init", "--state-dir", state, "--shares", "3", "--threshold", "1"
    )
    run_cli("init", "--state-dir", state, "--shares", "3", "--threshold", "2")
    assert "already initialized" in fails(
        "init", "--state-dir", state, "--shares", "3", "--threshold", "2"
    )
    assert "deployer" in fails(
        "token", "create", "--state-dir", state, "--role", "admin", "--app", "web"
    )
