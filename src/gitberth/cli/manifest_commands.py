"""Verbs that work on manifest files alone: ``validate`` and ``schema``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gitberth.cli._app import app, console, err_console
from gitberth.cli.options import AllowBindOption
from gitberth.core.errors import ManifestErrors
from gitberth.core.manifest_checks import check_binds
from gitberth.core.manifests import (
    MANIFEST_SUFFIXES,
    MAX_MANIFEST_BYTES,
    parse_manifest,
    too_large_problem,
)
from gitberth.host_paths import bind_policy
from gitberth.schema import app_schema


class SchemaKind(StrEnum):
    APP = "app"
    PLAN = "plan"
    NOTIFICATION = "notification"


@app.command()
def schema(
    kind: Annotated[
        SchemaKind,
        typer.Argument(
            help="app: a manifest (schemas/app.schema.json); plan: the "
            "plan --format json report (schemas/plan.schema.json); notification: the "
            "event serve --notify posts (schemas/notification.schema.json)"
        ),
    ] = SchemaKind.APP,
) -> None:
    """Print a JSON schema: an app manifest's (default), the JSON plan report's or a
    notification's."""
    from gitberth.render.report import plan_schema

    if kind is SchemaKind.NOTIFICATION:
        from gitberth.notify import notification_schema

        document = notification_schema()
    else:
        document = app_schema() if kind is SchemaKind.APP else plan_schema()
    typer.echo(json.dumps(document, indent=2))


def _manifest_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES))
        else:
            found.append(path)
    return found


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="manifest files or directories (default: apps/)")
    ] = None,
    allow_bind_under: AllowBindOption = None,
) -> None:
    """Check manifests and print every problem at once as file:line:column: field: message.

    Exit 0 when every file is valid, 1 otherwise.
    """
    targets = _manifest_paths(paths or [Path("apps")])
    if not targets:
        err_console.print("no manifest files found")
        raise typer.Exit(1)
    problems = 0
    policy = bind_policy(allow_bind_under)
    for path in targets:
        try:
            size = path.stat().st_size
            if size > MAX_MANIFEST_BYTES:  # never read into memory
                err_console.print(str(too_large_problem(str(path), size)), markup=False)
                problems += 1
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            err_console.print(f"{path}: cannot read: {exc}", markup=False, soft_wrap=True)
            problems += 1
            continue
        try:
            manifest = parse_manifest(text, file=str(path))
            refused = check_binds(manifest, text=text, file=str(path), policy=policy)
            if refused:
                raise ManifestErrors(refused)
        except ManifestErrors as exc:
            for problem in exc.problems:
                err_console.print(str(problem), markup=False, soft_wrap=True)
            problems += len(exc.problems)
    if problems:
        err_console.print(f"{problems} problem(s) in {len(targets)} file(s)")
        raise typer.Exit(1)
    console.print(f"{len(targets)} manifest(s) valid")
