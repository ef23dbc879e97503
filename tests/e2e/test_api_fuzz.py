"""Schemathesis over the live /openapi.json: no input, valid or not, gets a 5xx.

Each operation is fuzzed with positive and negative (schema-violating) cases, as an admin and as
an app-scoped deployer, on two servers: one with only the secrets API, and one started with
``--repo`` (a real temp Git repo, a real engine), so ``/apps``, ``/events``, ``/metrics``,
``/hooks/git`` and the real ``/deploy`` are fuzzed too. ``POST /admin/seal`` is left out (a
sealed store answers 503 by design), and so is ``POST /admin/rekey`` (it would replace the key
the server runs with between cases; tests/e2e/test_rekey.py covers it). The cases are driven by
hypothesis directly, one operation at a time, so the test needs no pytest plugin.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate as validate_openapi
from schemathesis import GenerationMode

from tests.e2e.conftest import Server

EXAMPLES_PER_OPERATION = int(os.environ.get("GITBERTH_FUZZ_EXAMPLES", "40"))
"""Per operation and mode; raise it for a deeper run (``GITBERTH_FUZZ_EXAMPLES=500``)."""


REPO_ROUTES = {"GET /apps", "GET /events", "GET /metrics", "POST /hooks/git", "POST /deploy"}


@pytest.fixture(
    scope="module",
    params=["secrets-only", pytest.param("with-repo", marks=pytest.mark.docker)],
)
def fuzzed_server(request: pytest.FixtureRequest) -> Server:
    name = "module_server" if request.param == "secrets-only" else "module_repo_server"
    server = request.getfixturevalue(name)
    assert isinstance(server, Server)
    return server


@pytest.fixture(scope="module")
def api_schema(fuzzed_server: Server) -> schemathesis.BaseSchema:
    return (
        schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")
        .exclude(path="/admin/seal", method="POST")
        .exclude(path="/admin/rekey", method="POST")
    )


@pytest.fixture(scope="module")
def scoped_token(fuzzed_server: Server) -> str:
    return fuzzed_server.create_token("--role", "deployer", "--app", "app1")


def fuzz(
    schema: schemathesis.BaseSchema, *, server: Server, token: str, mode: GenerationMode
) -> list[str]:
    """Run every operation; return a line per 5xx (empty when none)."""
    problems: list[str] = []
    labels: list[str] = []
    skipped: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=server.url, headers={"authorization": f"Bearer {token}"})
            if response.status_code >= 500:
                problems.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} "
                    f"{response.text[:200]}"
                )

        try:
            run()
        except Unsatisfiable:
            if mode is not GenerationMode.NEGATIVE:
                raise
            skipped.append(operation.label)
    assert "POST /secrets" in labels and "GET /secrets" in labels
    assert "POST /secrets" not in skipped, "operations without inputs have no negative cases"
    if server.repo is not None:
        assert REPO_ROUTES <= set(labels)
    return problems


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_as_admin(
    api_schema: schemathesis.BaseSchema, fuzzed_server: Server, mode: GenerationMode
) -> None:
    assert fuzz(api_schema, server=fuzzed_server, token=fuzzed_server.token, mode=mode) == []
    assert "unhandled" not in fuzzed_server.logs()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_as_scoped_deployer(
    api_schema: schemathesis.BaseSchema,
    fuzzed_server: Server,
    scoped_token: str,
    mode: GenerationMode,
) -> None:
    assert fuzz(api_schema, server=fuzzed_server, token=scoped_token, mode=mode) == []
    assert "unhandled" not in fuzzed_server.logs()


def test_the_openapi_document_is_valid(fuzzed_server: Server) -> None:
    """A valid OpenAPI 3.1 document (openapi-spec-validator) in which every ``$ref`` resolves:
    the deploy body once pointed at a ``#/$defs`` that did not, and client generators failed."""
    document = httpx.get(f"{fuzzed_server.url}/openapi.json").json()
    validate_openapi(document)
    assert unresolved_references(document) == []
    schemathesis.openapi.from_dict(document).validate()


def test_an_unresolvable_reference_is_found() -> None:
    document = {
        "components": {"schemas": {"Ok": {"type": "string"}}},
        "paths": {
            "/deploy": {"post": {"requestBody": {"$ref": "#/$defs/ServiceManifest"}}},
            "/ok": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Ok"}}}},
        },
    }
    assert unresolved_references(document) == ["#/$defs/ServiceManifest"]


def unresolved_references(document: dict[str, Any]) -> list[str]:
    """Every local ``$ref`` (a JSON pointer into *document*) that names nothing."""
    found: list[str] = []

    def resolves(pointer: str) -> bool:
        node: Any = document
        for part in pointer.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and not resolves(reference):
                found.append(reference)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return found
