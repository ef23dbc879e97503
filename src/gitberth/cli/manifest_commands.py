"""Verbs that work on manifest files alone: ``validate`` and ``schema``."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from gitberth.cli._app import app, console, err_console
from gitberth.core.errors import ManifestErrors
from gitberth.core.manifests import MANIFEST_SUFFIXES, parse_manifest, validate_manifest
from gitberth.schema import app_schema


@app.command()
def schema() -> None:
    """Print the JSON schema of an app manifest (what schemas/app.schema.json holds)."""
    typer.echo(json.dumps(app_schema(), indent=2))


def _manifest_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES))
        else:
            found.append(path)
    return found


# --- a fast path for the common case: a valid manifest --------------------------------------
#
# ruamel.yaml (pure Python here) keeps the line and column of every node, which errors need,
# but costs about 2 ms per manifest. libyaml through PyYAML reads one in about 0.15 ms. So a
# file is first read with libyaml; if that reading is certainly the one ruamel would produce
# and the manifest validates, the file is valid. Anything else (a validation error, an
# ambiguous scalar, a tag, a duplicate key, no PyYAML) goes to parse_manifest, which stays the
# only source of error messages and positions. A wrong fast "valid" is ruled out by reading
# plain scalars with YAML 1.2 core rules (what ruamel uses) and giving up on every scalar whose
# meaning differs between YAML 1.1 and 1.2 (yes/no/on/off, octal, 1:30, dates, ...).

try:
    import yaml as _libyaml

    _FAST_LOADER: Any = getattr(_libyaml, "CSafeLoader", None)
    _RESOLVER: Any = _libyaml.resolver.Resolver()
except ImportError:  # PyYAML is optional: without it every file takes the precise path
    _FAST_LOADER = _RESOLVER = None

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\.[0-9]+")
_AMBIGUOUS = re.compile(
    r"[-+]?[0-9.]|<<$|=$|(?i:y|n|yes|no|on|off|true|false|null|[-+]?\.inf|\.nan)$"
)


class _NotCertain(Exception):
    """libyaml's reading might differ from ruamel's: let parse_manifest decide."""


def _fast_data(text: str) -> Any:
    """The manifest data as ruamel would load it, or raise :class:`_NotCertain`."""
    if _FAST_LOADER is None or text.startswith("%") or "\n%" in text:
        raise _NotCertain  # no libyaml, or a %YAML directive that may switch to 1.1 rules
    try:
        node = _libyaml.compose(text, Loader=_FAST_LOADER)
    except _libyaml.YAMLError as exc:
        raise _NotCertain from exc
    if node is None or node.tag != _MAP:
        raise _NotCertain
    return _node_data(node)


@functools.lru_cache(maxsize=4096)
def _implicit_tag(plain: str) -> str:
    """The tag libyaml gives an untagged plain scalar; keys and common values repeat a lot."""
    return str(_RESOLVER.resolve(_libyaml.ScalarNode, plain, (True, False)))


def _node_data(node: Any) -> Any:
    if isinstance(node, _libyaml.MappingNode):
        if node.tag != _MAP:
            raise _NotCertain
        data: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _node_data(key_node)
            key = key if isinstance(key, str) else str(key)  # as manifests._plain does
            if key in data:
                raise _NotCertain  # ruamel rejects duplicate keys, with their position
            data[key] = _node_data(value_node)
        return data
    if isinstance(node, _libyaml.SequenceNode):
        if node.tag != _SEQ:
            raise _NotCertain
        return [_node_data(item) for item in node.value]
    value: str = node.value
    if node.style:  # quoted or block scalar (libyaml marks plain ones with "" or None)
        if node.tag != _STR:
            raise _NotCertain
        return value
    if node.tag != _implicit_tag(value):
        raise _NotCertain  # an explicit tag such as !!str 8080
    if value in _NULLS:
        return None
    if value in _BOOLS:
        return _BOOLS[value]
    if _INT.fullmatch(value):
        return int(value)
    if _FLOAT.fullmatch(value):
        return float(value)
    if _AMBIGUOUS.match(value):
        raise _NotCertain
    return value


def _certainly_valid(text: str, *, file: str) -> bool:
    try:
        validate_manifest(_fast_data(text), file=file)
    except Exception:  # not certain, not valid, or a libyaml surprise: parse_manifest decides
        return False
    return True


@app.command()
def validate(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="manifest files or directories (default: apps/)")
    ] = None,
) -> None:
    """Check manifests and print every problem at once as file:line:column: field: message.

    Exit 0 when every file is valid, 1 otherwise.
    """
    targets = _manifest_paths(paths or [Path("apps")])
    if not targets:
        err_console.print("no manifest files found")
        raise typer.Exit(1)
    problems = 0
    for path in targets:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            err_console.print(f"{path}: cannot read: {exc}", markup=False, soft_wrap=True)
            problems += 1
            continue
        if _certainly_valid(text, file=str(path)):
            continue
        try:
            parse_manifest(text, file=str(path))
        except ManifestErrors as exc:
            for problem in exc.problems:
                err_console.print(str(problem), markup=False, soft_wrap=True)
            problems += len(exc.problems)
    if problems:
        err_console.print(f"{problems} problem(s) in {len(targets)} file(s)")
        raise typer.Exit(1)
    console.print(f"{len(targets)} manifest(s) valid")
