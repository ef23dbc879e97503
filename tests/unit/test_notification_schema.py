"""schemas/notification.schema.json is exactly what `gitberth schema notification` prints."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from gitberth.cli import app
from gitberth.notify import DeployNotification, notification_schema

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_notification_schema_is_not_stale() -> None:
    committed = json.loads((ROOT / "schemas" / "notification.schema.json").read_text())
    assert committed == notification_schema(), (
        "run: gitberth schema notification > schemas/notification.schema.json"
    )


def test_the_schema_command_prints_the_notification_schema() -> None:
    result = CliRunner().invoke(app, ["schema", "notification"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == notification_schema()


def test_an_event_validates_against_the_schema_and_unknown_fields_do_not() -> None:
    event = DeployNotification(
        app="web",
        outcome="failed",
        revision="a" * 40,
        author="dev",
        subject="bump",
        tokenId=None,
        rollbackOf=None,
        actions=[],
        error={"code": "rollout_failed", "message": "unhealthy"},  # type: ignore[arg-type]
        source="/srv/repo",
        branch="main",
        time="2026-01-01T00:00:00Z",
        trigger="commit",
    ).model_dump(mode="json")
    jsonschema.validate(event, notification_schema())
    try:
        jsonschema.validate({**event, "colour": "red"}, notification_schema())
    except jsonschema.ValidationError:
        return
    raise AssertionError("an unknown field validated")
