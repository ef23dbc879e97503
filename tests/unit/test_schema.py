"""schemas/app.schema.json is exactly what `gitberth schema` prints from the model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gitberth.cli import app
from gitberth.schema import app_schema

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_schema_is_not_stale() -> None:
    committed = json.loads((ROOT / "schemas" / "app.schema.json").read_text())
    assert committed == app_schema(), "run: gitberth schema > schemas/app.schema.json"


def test_the_schema_command_prints_the_schema() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == app_schema()


def test_the_schema_rejects_unknown_fields() -> None:
    schema = app_schema()
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["ServiceManifest"]["additionalProperties"] is False


def test_the_schema_command_prints_the_plan_report_schema() -> None:
    from gitberth.render.report import plan_schema

    result = CliRunner().invoke(app, ["schema", "plan"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == plan_schema()


def test_editors_check_container_options_as_gitberth_does() -> None:
    import jsonschema
    from ruamel.yaml import YAML

    from tests.unit.test_container_options import FULL

    schema = app_schema()
    good = YAML(typ="safe").load(FULL)
    jsonschema.validate(good, schema)
    for bad in (
        {**good, "stopGracePeriod": "10"},
        {**good, "healthcheck": {"http": "/", "interval": "2x"}},
        {**good, "restart": "sometimes"},
        {**good, "privileged": True},
        {**good, "resources": {"memory": "lots"}},
    ):
        assert not jsonschema.Draft202012Validator(schema).is_valid(bad), bad
