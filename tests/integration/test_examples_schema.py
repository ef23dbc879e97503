"""Every example manifest tells editors where its schema is, and passes that schema.

The ``yaml-language-server`` line gives completion and inline errors in VS Code and other
editors; this test proves the line points at ``schemas/app.schema.json`` from where the file is,
and that check-jsonschema (what a CI job would run) accepts every example against it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "schemas" / "app.schema.json"
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*/apps/*") if p.suffix in (".yaml", ".yml"))
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")
PREFIX = "# yaml-language-server: $schema="


def test_there_are_example_manifests() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("manifest", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_first_line_points_editors_at_the_app_schema(manifest: Path) -> None:
    first = manifest.read_text(encoding="utf-8").splitlines()[0]

    assert first.startswith(PREFIX), f"{manifest}: first line must be {PREFIX}<path>"
    target = (manifest.parent / first.removeprefix(PREFIX).strip()).resolve()
    assert target == SCHEMA


def test_check_jsonschema_accepts_every_example() -> None:
    done = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(SCHEMA), *map(str, EXAMPLES)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_check_jsonschema_rejects_a_manifest_the_model_rejects(tmp_path: Path) -> None:
    broken = tmp_path / "web.yaml"
    broken.write_text("name: web\nimage: acme/web:1.0\nport: 8080\nreplica: 2\n")

    done = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(SCHEMA), str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 1
    assert "replica" in done.stdout + done.stderr
