"""Backups of a live server: taken under write load, restored on a fresh state dir, and every
secret acknowledged before the backup started decrypts there with the original master key.

Also ``GET /admin/backup``: admin only, the passphrase only in a header, and its file restores
into a server that unseals by itself when the key was asked for.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from pathlib import Path

import httpx
from pyrage import x25519

from gitberth.database import open_database
from gitberth.secrets import crypto
from gitberth.secrets.store import SecretStore
from gitberth.state import StateDir
from tests.e2e.conftest import GITBERTH, Server, StartServer
from tests.support.waiting import wait_until

PASSPHRASE = "correct horse battery staple 42"
SENTINEL = "SENTINEL-backup-5eed-plaintext"


def gitberth(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GITBERTH, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def restored_values(state_dir: Path, *, master_key_file: Path) -> dict[tuple[str | None, str], str]:
    """Every secret of a restored state dir, decrypted with the ORIGINAL server's master key."""
    db = open_database(StateDir(state_dir))
    try:
        store = SecretStore(db)
        store.unlock(crypto.MasterKey.from_base64(master_key_file.read_text()))
        names = [(info.app_id, info.name) for info in store.list()]
        materials = store.materials(names)
        assert set(materials) == set(names), "every listed secret decrypts"
        return {
            key: material.keys["VALUE"].value.get_secret_value()
            for key, material in materials.items()
        }
    finally:
        store.lock()
        db.close()


class SecretWriter:
    """Threads that write fresh secrets through the API until stopped, recording each ack."""

    def __init__(self, server: Server, *, threads: int = 2, limit: int = 2000) -> None:
        self._server = server
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._limit = limit
        self.acknowledged: dict[tuple[str | None, str], str] = {}
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(threads)]

    def __enter__(self) -> SecretWriter:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def snapshot(self) -> dict[tuple[str | None, str], str]:
        with self._lock:
            return dict(self.acknowledged)

    def _run(self, worker: int) -> None:
        with self._server.client() as client:
            for index in range(self._limit):
                if self._stop.is_set():
                    return
                name = f"load-{worker}-{index}"
                app_id = "app1" if index % 3 == 0 else None
                value = f"{SENTINEL}-{uuid.uuid4().hex}"
                body: dict[str, object] = {"name": name, "data": {"VALUE": value}}
                if app_id:
                    body["appId"] = app_id
                response = client.post("/secrets", json=body)
                assert response.status_code == 201, response.text
                with self._lock:
                    self.acknowledged[(app_id, name)] = value


def test_a_backup_taken_under_write_load_restores_every_acknowledged_secret(
    server: Server, tmp_path: Path
) -> None:
    identity = x25519.Identity.generate()
    identity_file = tmp_path / "backup.key"
    identity_file.write_text(f"# backup identity\n{identity}\n")
    backup_file = tmp_path / "live.age"
    with SecretWriter(server) as writer:
        wait_until(lambda: len(writer.snapshot()) >= 40, timeout=60)
        before = writer.snapshot()
        taken = gitberth(
            "backup",
            "--state-dir",
            str(server.state_dir),
            "--out",
            str(backup_file),
            "--recipient",
            str(identity.to_public()),
        )
        assert taken.returncode == 0, taken.stderr
        wait_until(lambda: len(writer.snapshot()) >= len(before) + 20, timeout=60)
    everything = writer.snapshot()
    assert "master key is NOT in this backup" in taken.stderr
    assert SENTINEL.encode() not in backup_file.read_bytes()
    assert oct(backup_file.stat().st_mode & 0o777) == "0o600"

    restored_dir = tmp_path / "restored"
    restored = gitberth(
        "restore",
        str(backup_file),
        "--state-dir",
        str(restored_dir),
        "--identity",
        str(identity_file),
    )
    assert restored.returncode == 0, restored.stderr
    assert sorted(p.name for p in restored_dir.iterdir()) == ["gitberth.db"]

    values = restored_values(restored_dir, master_key_file=server.state_dir / "master.key")
    assert {key: values.get(key) for key in before} == before, "every acked write is in it"
    assert all(everything[key] == value for key, value in values.items()), "nothing invented"
    assert len(values) < len(everything), "the snapshot ends where the backup started"


def test_admin_backup_streams_a_file_that_restores_into_a_working_server(
    start_server: StartServer, tmp_path: Path
) -> None:
    original = start_server(name="original")
    deployer = original.create_token("--role", "deployer")
    with original.client() as client:
        assert (
            client.post("/secrets", json={"name": "db", "data": {"URL": SENTINEL}}).status_code
            == 201
        )
        with SecretWriter(original, threads=1) as writer:
            wait_until(lambda: len(writer.snapshot()) >= 10, timeout=60)
            response = client.get(
                "/admin/backup",
                params={"withKey": "true"},
                headers={"x-backup-passphrase": PASSPHRASE},
            )
        assert response.status_code == 200, response.text
        assert response.headers["x-backup-with-key"] == "true"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert SENTINEL.encode() not in response.content
        audit = client.get("/audit", params={"limit": 5}).json()["entries"]
        assert "admin.backup-with-key" in [entry["action"] for entry in audit]
    backup_file = tmp_path / "over-http.age"
    backup_file.write_bytes(response.content)

    def restore(state_dir: Path) -> None:
        result = gitberth(
            "restore",
            str(backup_file),
            "--state-dir",
            str(state_dir),
            env={"GITBERTH_BACKUP_PASSPHRASE": PASSPHRASE},
        )
        assert result.returncode == 0, result.stderr
        assert "master key IS in this backup" in result.stdout

    copy = start_server(name="copy", setup=restore)
    assert httpx.get(f"{copy.url}/admin/seal-status").json()["sealed"] is False
    with copy.client(deployer) as client:  # tokens travel with the state
        names = {s["name"] for s in client.get("/secrets").json()["secrets"]}
    assert {"db", "load-0-0"} <= names
    assert SENTINEL not in original.logs() + copy.logs()


def test_admin_backup_is_for_admins_and_never_takes_a_passphrase_in_the_url(
    server: Server,
) -> None:
    deployer = server.create_token("--role", "deployer")
    url = f"{server.url}/admin/backup"
    header = {"x-backup-passphrase": PASSPHRASE}
    assert httpx.get(url, headers=header).status_code == 401
    forbidden = httpx.get(url, headers={**header, "authorization": f"Bearer {deployer}"})
    assert (forbidden.status_code, forbidden.json()["error"]) == (403, "forbidden")
    with server.client() as client:
        in_url = client.get("/admin/backup", params={"passphrase": PASSPHRASE})
        assert (in_url.status_code, in_url.json()["field"]) == (400, "passphrase")
        assert PASSPHRASE not in in_url.text
        neither = client.get("/admin/backup")
        assert (neither.status_code, neither.json()["field"]) == (400, "x-backup-passphrase")
        short = client.get("/admin/backup", headers={"x-backup-passphrase": "short"})
        assert (short.status_code, short.json()["field"]) == (400, "x-backup-passphrase")
        bad_recipient = client.get("/admin/backup", headers={"x-backup-recipient": "age1nope"})
        assert (bad_recipient.status_code, bad_recipient.json()["field"]) == (
            400,
            "x-backup-recipient",
        )
        both = client.get(
            "/admin/backup",
            headers={**header, "x-backup-recipient": str(x25519.Identity.generate().to_public())},
        )
        assert both.status_code == 400
    assert PASSPHRASE not in server.logs()
