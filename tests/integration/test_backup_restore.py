"""``gitberth backup`` / ``restore`` on real state dirs: what is refused changes nothing.

A tampered or truncated file, a wrong passphrase or identity, a non-empty target and an archive
that decrypts but does not match its manifest are all refused before anything is written; the
master key travels only with ``--with-key``, and the output says which.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyrage import x25519

from gitberth.backup import archive, encryption
from gitberth.database import open_database
from gitberth.secrets import crypto
from gitberth.secrets.store import SecretStore
from gitberth.state import StateDir
from tests.support.secretstore import open_store

GITBERTH = str(Path(sys.executable).with_name("gitberth"))
PASSPHRASE = "a long and honest passphrase"
SENTINEL = "SENTINEL-restore-9f1d-plaintext"


def gitberth(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "GITBERTH_BACKUP_PASSPHRASE"}
    return subprocess.run(
        [GITBERTH, *args],
        capture_output=True,
        text=True,
        env={**environment, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A state dir with a shared and an app-scoped secret, closed (no server running)."""
    path = tmp_path / "state"
    store, db = open_store(path)
    store.put(name="db", app_id=None, data={"URL": SENTINEL})
    store.put(name="db", app_id="web", data={"URL": SENTINEL + "-web", "USER": "web"})
    db.close()
    return path


@pytest.fixture
def identity(tmp_path: Path) -> tuple[x25519.Identity, Path]:
    key = x25519.Identity.generate()
    path = tmp_path / "identity.txt"
    path.write_text(f"# created for a test\n{key}\n")
    return key, path


def backup_to_recipient(state: Path, out: Path, key: x25519.Identity, *extra: str) -> str:
    result = gitberth(
        "backup",
        "--state-dir",
        str(state),
        "--out",
        str(out),
        "--recipient",
        str(key.to_public()),
        *extra,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def decrypted_values(state: Path, master_key: str) -> dict[tuple[str | None, str], dict[str, str]]:
    db = open_database(StateDir(state))
    store = SecretStore(db)
    try:
        store.unlock(crypto.MasterKey.from_base64(master_key))
        names = [(info.app_id, info.name) for info in store.list()]
        return {
            key: {k: v.value.get_secret_value() for k, v in material.keys.items()}
            for key, material in store.materials(names).items()
        }
    finally:
        store.lock()
        db.close()


def test_with_key_restores_a_state_dir_that_reads_every_secret(
    state: Path, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    key, identity_file = identity
    out = tmp_path / "with-key.age"
    said = backup_to_recipient(state, out, key, "--with-key")
    assert "master key IS in this backup" in said
    target = tmp_path / "empty"
    target.mkdir()  # an existing empty dir is fine too
    result = gitberth(
        "restore", str(out), "--state-dir", str(target), "--identity", str(identity_file)
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["gitberth.db", "master.key"]
    assert {oct(p.stat().st_mode & 0o777) for p in target.iterdir()} == {"0o600"}
    assert oct(target.stat().st_mode & 0o777) == "0o700"
    restored_key = (target / "master.key").read_text()
    assert restored_key == (state / "master.key").read_text()
    assert decrypted_values(target, restored_key) == {
        (None, "db"): {"URL": SENTINEL},
        ("web", "db"): {"URL": SENTINEL + "-web", "USER": "web"},
    }


def test_without_key_the_backup_holds_no_key_and_says_so(
    state: Path, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    key, _ = identity
    out = tmp_path / "no-key.age"
    said = backup_to_recipient(state, out, key)
    assert "master key is NOT in this backup" in said
    plaintext = encryption.decrypt(out.read_bytes(), identities=[key])
    contents = archive.unpack(plaintext)
    assert contents.master_key is None and not contents.summary.with_key
    master_key = (state / "master.key").read_text().strip()
    assert master_key.encode() not in plaintext
    assert SENTINEL.encode() not in plaintext and SENTINEL.encode() not in out.read_bytes()


def test_a_wrong_passphrase_changes_nothing(state: Path, tmp_path: Path) -> None:
    out = tmp_path / "pass.age"
    made = gitberth(
        "backup",
        "--state-dir",
        str(state),
        "--out",
        str(out),
        env={"GITBERTH_BACKUP_PASSPHRASE": PASSPHRASE},
    )
    assert made.returncode == 0, made.stderr
    target = tmp_path / "target"
    target.mkdir()
    wrong = gitberth(
        "restore",
        str(out),
        "--state-dir",
        str(target),
        env={"GITBERTH_BACKUP_PASSPHRASE": "not the passphrase at all"},
    )
    assert wrong.returncode == 1
    assert "does not decrypt" in wrong.stderr and "nothing was written" in wrong.stderr
    assert list(target.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if "restoring" in p.name] == []


@pytest.mark.parametrize("damage", ["flip a payload bit", "flip a header bit", "truncate"])
def test_a_tampered_file_is_refused(
    state: Path, identity: tuple[x25519.Identity, Path], tmp_path: Path, damage: str
) -> None:
    key, identity_file = identity
    out = tmp_path / "backup.age"
    backup_to_recipient(state, out, key)
    data = bytearray(out.read_bytes())
    if damage == "flip a payload bit":
        data[len(data) // 2] ^= 0x01
    elif damage == "flip a header bit":
        data[data.index(b"\n---") - 3] ^= 0x01
    else:
        del data[-100:]
    out.write_bytes(bytes(data))
    target = tmp_path / "never"
    result = gitberth(
        "restore", str(out), "--state-dir", str(target), "--identity", str(identity_file)
    )
    assert result.returncode == 1
    assert "gitberth restore:" in result.stderr and "Traceback" not in result.stderr
    assert not target.exists()


def test_an_archive_that_decrypts_but_does_not_match_its_manifest_is_refused(
    state: Path, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    """Encryption is only the first check: the checksums and SQLite's own follow."""
    key, identity_file = identity
    out = tmp_path / "backup.age"
    backup_to_recipient(state, out, key)
    contents = archive.unpack(encryption.decrypt(out.read_bytes(), identities=[key]))
    forged = archive.pack(contents).replace(contents.database[-64:], b"\x00" * 64)
    forged_file = tmp_path / "forged.age"
    protection = encryption.Recipients.parse([str(key.to_public())])
    forged_file.write_bytes(encryption.encrypt(forged, protection=protection))
    target = tmp_path / "never"
    result = gitberth(
        "restore", str(forged_file), "--state-dir", str(target), "--identity", str(identity_file)
    )
    assert result.returncode == 1
    assert "does not match its checksum" in result.stderr
    assert not target.exists()


def test_restore_refuses_a_non_empty_state_dir_and_touches_nothing(
    state: Path, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    key, identity_file = identity
    out = tmp_path / "backup.age"
    backup_to_recipient(state, out, key)
    before = {p.name: p.read_bytes() for p in state.iterdir()}
    result = gitberth(
        "restore", str(out), "--state-dir", str(state), "--identity", str(identity_file)
    )
    assert result.returncode == 1 and "is not empty" in result.stderr
    assert {p.name: p.read_bytes() for p in state.iterdir()} == before


def test_backup_refuses_to_overwrite_or_to_guess_a_passphrase(
    state: Path, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    key, _ = identity
    existing = tmp_path / "existing.age"
    existing.write_bytes(b"keep me")
    overwrite = gitberth(
        "backup",
        "--state-dir",
        str(state),
        "--out",
        str(existing),
        "--recipient",
        str(key.to_public()),
    )
    assert overwrite.returncode == 1 and "exists" in overwrite.stderr
    assert existing.read_bytes() == b"keep me"
    no_passphrase = gitberth("backup", "--state-dir", str(state), "--out", str(tmp_path / "x"))
    assert no_passphrase.returncode == 1
    assert "GITBERTH_BACKUP_PASSPHRASE" in no_passphrase.stderr
    assert not (tmp_path / "x").exists()
    short = gitberth(
        "backup",
        "--state-dir",
        str(state),
        "--out",
        str(tmp_path / "y"),
        env={"GITBERTH_BACKUP_PASSPHRASE": "short"},
    )
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    no_identity = gitberth("restore", str(tmp_path / "y"), "--state-dir", str(tmp_path / "z"))
    assert no_identity.returncode == 1


def test_a_recipient_backup_asks_for_the_identity(
    state: Path, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    key, _ = identity
    out = tmp_path / "backup.age"
    backup_to_recipient(state, out, key)
    other = tmp_path / "other.txt"
    other.write_text(f"{x25519.Identity.generate()}\n")
    missing = gitberth("restore", str(out), "--state-dir", str(tmp_path / "a"))
    assert missing.returncode == 1 and "--identity" in missing.stderr
    wrong = gitberth(
        "restore", str(out), "--state-dir", str(tmp_path / "b"), "--identity", str(other)
    )
    assert wrong.returncode == 1 and "does not decrypt" in wrong.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_backup_can_stream_to_stdout(
    state: Path, identity: tuple[x25519.Identity, Path], tmp_path: Path
) -> None:
    key, identity_file = identity
    streamed = subprocess.run(
        [
            GITBERTH,
            "backup",
            "--state-dir",
            str(state),
            "--out",
            "-",
            "--recipient",
            str(key.to_public()),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.startswith(b"age-encryption.org/v1\n")
    assert b"written to stdout" in streamed.stderr
    out = tmp_path / "piped.age"
    out.write_bytes(streamed.stdout)
    result = gitberth(
        "restore", str(out), "--state-dir", str(tmp_path / "r"), "--identity", str(identity_file)
    )
    assert result.returncode == 0, result.stderr
