"""The spec ledger keeps value-free summaries across restarts, secret origins typed."""

from __future__ import annotations

import json
from pathlib import Path

from gitberth.core.resolved import SecretSourced
from gitberth.database import open_database
from gitberth.spec_ledger import SpecLedger
from gitberth.state import StateDir

SUMMARY = {
    "image": "acme/web:1.0",
    "env": {
        "TOKEN": SecretSourced("api-creds", "web", "0123456789ab"),
        "LOOKALIKE": "<secret api-creds (shared) #aaaa>",  # inline text, not an origin
        "MODE": "fast",
    },
    "files": {"tls.crt": SecretSourced("tls", None, "ba9876543210")},
}


def stored_rows(state: Path) -> list[dict[str, object]]:
    db = open_database(StateDir(state))
    try:
        with db.reading() as conn:
            return [json.loads(s) for (s,) in conn.execute("SELECT summary FROM spec_summaries")]
    finally:
        db.close()


def test_a_summary_reads_back_equal_after_a_restart(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    SpecLedger(db)["hash-1"] = SUMMARY
    db.close()

    db = open_database(StateDir(tmp_path / "state"))
    try:
        assert SpecLedger(db)["hash-1"] == SUMMARY
    finally:
        db.close()


def test_an_origin_is_stored_as_an_object_and_inline_text_as_text(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    SpecLedger(db)["hash-1"] = SUMMARY
    db.close()
    [row] = stored_rows(tmp_path / "state")
    env = row["env"]
    assert isinstance(env, dict)
    assert env["TOKEN"] == {"secret": "api-creds", "scope": "web", "fingerprint": "0123456789ab"}
    assert env["LOOKALIKE"] == "<secret api-creds (shared) #aaaa>"


def test_rows_written_before_origins_were_typed_still_explain_a_change(tmp_path: Path) -> None:
    db = open_database(StateDir(tmp_path / "state"))
    SpecLedger(db)  # creates the table
    legacy = {"env": {"TOKEN": "<secret api-creds (app web) #0123456789ab>", "MODE": "x"}}
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO spec_summaries (spec_hash, summary) VALUES (?, ?)",
            ("old-hash", json.dumps(legacy)),
        )
    db.close()

    db = open_database(StateDir(tmp_path / "state"))
    try:
        assert SpecLedger(db)["old-hash"]["env"] == {
            "TOKEN": SecretSourced("api-creds", "web", "0123456789ab"),
            "MODE": "x",
        }
    finally:
        db.close()
