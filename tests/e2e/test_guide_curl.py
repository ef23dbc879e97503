"""The guide's curl lines, verbatim, against a real server started as the README says.

``API`` and ``TOKEN`` are set in the environment as a user would; each block is run by bash
exactly as printed in spec/secrets-guide.txt (the ``/deploy`` example belongs to the deploy
feature and is not run here).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import Server

GUIDE = Path(__file__).resolve().parents[3] / "shared" / "spec" / "secrets-guide.txt"
"""The product guide: in shared/ beside the checkout, on developers' and CI's machines."""

CREATE_SHARED = """curl -s -X POST $API/secrets \\
-H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
-d '{"name":"db-creds","data":{"DATABASE_URL":"postgres://u:p@host/db"}}'"""

CREATE_SCOPED = """curl -s -X POST $API/secrets \\
-H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
-d '{"name":"db-creds","data":{"DATABASE_URL":"postgres://…/app1"},"appId":"app1"}'"""

LIST = """curl -s $API/secrets -H "authorization: Bearer $TOKEN" # names + key names only"""

DELETE_SHARED = (
    """curl -s -X DELETE "$API/secrets/db-creds" -H "authorization: Bearer $TOKEN" # shared"""
)

DELETE_SCOPED = (
    """curl -s -X DELETE "$API/secrets/db-creds?appId=app1" -H "authorization: Bearer $TOKEN" """
    """# scoped"""
)


def curl(server: Server, script: str) -> str:
    result = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={"API": server.url, "TOKEN": server.token, "PATH": "/usr/bin:/bin"},
        timeout=30,
        check=True,
    )
    return result.stdout


@pytest.mark.skipif(not GUIDE.exists(), reason="the product guide is not checked out here")
@pytest.mark.parametrize(
    "block", [CREATE_SHARED, CREATE_SCOPED, LIST, DELETE_SHARED, DELETE_SCOPED]
)
def test_blocks_are_verbatim_from_the_guide(block: str) -> None:
    assert block in GUIDE.read_text(encoding="utf-8")


def test_guide_curl_lines(server: Server) -> None:
    assert json.loads(curl(server, CREATE_SHARED)) == {
        "name": "db-creds",
        "appId": None,
        "keys": ["DATABASE_URL"],
    }
    assert json.loads(curl(server, CREATE_SCOPED)) == {
        "name": "db-creds",
        "appId": "app1",
        "keys": ["DATABASE_URL"],
    }
    again = curl(server, CREATE_SHARED)
    assert json.loads(again)["keys"] == ["DATABASE_URL"], "POST replaces by name+scope"

    listed = curl(server, LIST)
    assert "postgres" not in listed, "the API never returns values"
    secrets = json.loads(listed)["secrets"]
    assert [(s["name"], s["appId"], s["keys"]) for s in secrets] == [
        ("db-creds", None, ["DATABASE_URL"]),
        ("db-creds", "app1", ["DATABASE_URL"]),
    ]

    assert curl(server, DELETE_SHARED) == ""
    assert [s["appId"] for s in json.loads(curl(server, LIST))["secrets"]] == ["app1"]
    assert curl(server, DELETE_SCOPED) == ""
    assert json.loads(curl(server, LIST)) == {"secrets": []}
    assert json.loads(curl(server, DELETE_SCOPED)) == {"error": "not_found"}


def test_guide_curl_lines_answer_503_sealed(server: Server) -> None:
    with server.client() as client:
        assert client.post("/admin/seal").status_code == 200
    for block in (CREATE_SHARED, CREATE_SCOPED, LIST, DELETE_SHARED, DELETE_SCOPED):
        assert json.loads(curl(server, block)) == {"error": "sealed"}
