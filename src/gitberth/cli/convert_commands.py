"""``gitberth convert compose.yaml``: write a gitberth manifest from a docker compose file.

The mapping itself is pure (:mod:`gitberth.convert`); this verb reads the compose file, writes
``<out>/<app>.yaml`` and prints every compose key that did not carry over, then validates what
it wrote exactly as ``gitberth validate`` would. Only input that cannot be read makes it fail:
a file with keys gitberth has no field for still converts, and the report says which.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gitberth.cli._app import app, err_console
from gitberth.core.errors import ComposeError, ManifestErrors, ManifestProblem
from gitberth.core.field_types import is_dns_label

DEFAULT_SCHEMA = "../schemas/app.schema.json"


class ReportFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _app_option(value: str | None) -> str | None:
    if value is not None and not is_dns_label(value):
        raise typer.BadParameter("an app name is a DNS label: lowercase letters, digits and '-'")
    return value


def _fail(message: str) -> typer.Exit:
    err_console.print(message, markup=False, soft_wrap=True)
    return typer.Exit(1)


@app.command()
def convert(
    compose_file: Annotated[Path, typer.Argument(help="the docker compose file to convert")],
    out: Annotated[
        str,
        typer.Option("--out", help="folder for <app>.yaml; '-' prints the manifest instead"),
    ] = "apps",
    app_option: Annotated[
        str | None,
        typer.Option(
            "--app",
            help="app name (default: the file's `name:`, else its folder's name)",
            callback=_app_option,
        ),
    ] = None,
    schema: Annotated[
        str,
        typer.Option("--schema", help="schema path for the yaml-language-server line"),
    ] = DEFAULT_SCHEMA,
    output_format: Annotated[
        ReportFormat, typer.Option("--format", help="report as text or json")
    ] = ReportFormat.TEXT,
    force: Annotated[bool, typer.Option("--force", help="replace an existing manifest")] = False,
) -> None:
    """Convert a docker compose file into one gitberth app manifest.

    One app per compose file, one gitberth service per compose service. Every compose key that
    is not carried over is listed with the reason. Exit 1 only when the compose file cannot be
    read (or the manifest cannot be written, or would replace one without --force). With
    --format json and --out -, the JSON report alone is printed; it holds the manifest's text.
    """
    # Imported here: every other verb starts without loading the converter.
    from gitberth.convert.compose_file import load_compose
    from gitberth.convert.mapping import app_name, convert_compose
    from gitberth.convert.render import manifest_yaml, report_json, report_text

    try:
        text = compose_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise _fail(f"{compose_file}: cannot read: {reason}") from None
    source = compose_file.name
    folder = compose_file.resolve().parent
    try:
        compose = load_compose(text, file=str(compose_file))
        name = app_name(explicit=app_option, compose=compose, folder=folder.name)
    except ComposeError as exc:
        raise _fail(str(exc)) from None
    conversion = convert_compose(compose, app=name, base_dir=str(folder))
    manifest = manifest_yaml(conversion, source=source, schema=schema)

    target = None if out == "-" else Path(out) / f"{name}.yaml"
    if target is not None and target.exists() and not force:
        raise _fail(f"{target} exists; pass --force to replace it")
    problems = _problems(manifest, file=str(target) if target else f"{name}.yaml")
    if target is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, manifest)
        except OSError as exc:
            raise _fail(f"{target}: cannot write: {exc.strerror}") from None

    written = str(target) if target else None
    if output_format is ReportFormat.JSON:
        document = report_json(
            conversion, source=str(compose_file), written=written, problems=problems,
            manifest_text=manifest,
        )  # fmt: skip
        typer.echo(document, nl=False)
        return
    if target is None:
        typer.echo(manifest, nl=False)
    report = report_text(conversion, source=str(compose_file), written=written, problems=problems)
    typer.echo(report, nl=False, err=target is None)


def _problems(manifest: str, *, file: str) -> tuple[ManifestProblem, ...]:
    """What ``gitberth validate`` would say about the converted manifest."""
    from gitberth.core.manifests import parse_manifest

    try:
        parse_manifest(manifest, file=file)
    except ManifestErrors as exc:
        return exc.problems
    return ()


def _write(target: Path, text: str) -> None:
    """Write through a temporary file and rename, so a failed write leaves no half manifest."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
