"""Turn manifest text into validated :class:`AppManifest` values, collecting every problem.

Parsing uses ruamel.yaml's round-trip loader because it keeps the line and column of every key
and item, so a pydantic error location (``services.0.port``) can be pointed at
``apps/shop.yaml:7:11``. That loader only builds plain mappings, sequences and scalars (no
arbitrary Python objects), and it rejects duplicate keys. The functions here take text, never
paths: reading files is the caller's business.

ruamel.yaml is pure Python here and costs about 2 ms per manifest, which dominates a review of
thousands of them; libyaml (through PyYAML, a pure parser too) reads one in about 0.15 ms. So
:func:`parse_manifest` first reads a file with libyaml, and when that reading is certainly the
one ruamel would produce and it validates, that is the answer. Anything else (a validation
error, an ambiguous scalar, a tag, a duplicate key, a directive, no libyaml) takes the ruamel
path, which stays the only source of error messages and positions. A wrong fast reading is
ruled out by reading plain scalars with YAML 1.2 core rules (what ruamel uses) and giving up on
every scalar whose meaning differs between YAML 1.1 and 1.2 (yes/no/on/off, octal, 1:30,
dates, ...).
"""

from __future__ import annotations

import functools
import io
import posixpath
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml as libyaml
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from gitberth.core.binds import BindPolicy, bind_problems
from gitberth.core.errors import ManifestErrors, ManifestProblem
from gitberth.core.models import AppManifest, container_base
from gitberth.core.option_fields import REFUSED_FIELDS

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_MANIFEST_BYTES = 256 * 1024
"""A manifest is a page of YAML; anything near this size is a mistake or an attack, and every
pass, review and deploy reads every manifest."""

_FRIENDLY = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


@dataclass(frozen=True)
class LoadResult:
    """Every app that loaded, and the problems of every file that did not.

    ``held`` names the apps whose manifest is broken: their running containers must be left
    exactly as they are. The app name of a broken file is its file name without suffix, which
    is what a valid file would have had to declare.
    """

    apps: Mapping[str, AppManifest]
    problems: Mapping[str, tuple[ManifestProblem, ...]] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self.problems)

    @property
    def all_problems(self) -> tuple[ManifestProblem, ...]:
        return tuple(p for name in sorted(self.problems) for p in self.problems[name])


def _yaml() -> YAML:
    loader = YAML(typ="rt", pure=True)
    loader.allow_duplicate_keys = False
    return loader


def _plain(node: Any) -> Any:
    """Strip ruamel's comment-carrying types down to dict, list and scalars."""
    if isinstance(node, CommentedMap | dict):
        return {str(k) if not isinstance(k, str) else k: _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq | list):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _position(
    root: Any, loc: tuple[int | str, ...], *, at_key: bool = False
) -> tuple[int | None, int | None]:
    """Find the 1-based line and column of the node at a pydantic error location.

    With *at_key* the last step points at the mapping key rather than its value (for unknown
    fields and invalid keys).
    """
    node = root
    line: int | None = getattr(getattr(root, "lc", None), "line", None)
    column: int | None = getattr(getattr(root, "lc", None), "col", None)
    for index, part in enumerate(loc):
        if isinstance(node, CommentedMap) and part in node:
            key_pos = node.lc.key(part)
            value = node[part]
            if at_key and index == len(loc) - 1:
                line, column = key_pos
            elif isinstance(value, CommentedMap | CommentedSeq) and value:
                line, column = value.lc.line, value.lc.col
            else:
                line, column = node.lc.value(part) if value is not None else key_pos
            node = value
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, column = node.lc.item(part)
            node = node[part]
        elif isinstance(node, CommentedMap) and isinstance(part, str):
            # An unknown key: point at the key itself when it exists under another spelling.
            for key in node:
                if str(key) == part:
                    line, column = node.lc.key(key)
            break
        else:
            break
    return (line + 1 if line is not None else None, column + 1 if column is not None else None)


def _field_path(loc: Iterable[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def _message(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    loc = error.get("loc") or ()
    if kind == "extra_forbidden" and loc and str(loc[-1]) in REFUSED_FIELDS:
        return REFUSED_FIELDS[str(loc[-1])]
    if kind in _FRIENDLY:
        return _FRIENDLY[kind]
    message = str(error.get("msg", "invalid value"))
    if kind == "string_pattern_mismatch":
        pattern = str((error.get("ctx") or {}).get("pattern", ""))
        if "A-Za-z_" in pattern:
            return "must be a variable name: letters, digits and '_', not starting with a digit"
        if "a-z0-9" in pattern:
            return "must be a DNS label: lowercase letters, digits and '-', at most 63"
    return message.removeprefix("Value error, ")


def _validation_loc(error: Mapping[str, Any]) -> tuple[int | str, ...]:
    """Drop pydantic's internal steps (function validators, union arms) from a location."""
    return tuple(
        part
        for part in error.get("loc", ())
        if not (isinstance(part, str) and ("[" in part or part.startswith("function-")))
    )


# --- the fast path: libyaml, for the common case of a valid manifest --------------------------

_FAST_LOADER: Any = getattr(libyaml, "CSafeLoader", None)  # None: PyYAML built without libyaml
_RESOLVER: Any = libyaml.resolver.Resolver()  # types-PyYAML leaves resolve() untyped

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

_UNIT_QUANTITY = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+|[0-9]+[kKmMgG]i?[bB]?")
"""Durations and sizes: digits then a unit letter, which neither YAML version reads as a
number, so they need not take the slow path."""


class _NotCertain(Exception):
    """libyaml's reading might differ from ruamel's: the precise path must decide."""


def _fast_data(text: str) -> dict[str, Any]:
    """The manifest data exactly as ruamel would load it (after :func:`_plain`), read with
    libyaml; raise :class:`_NotCertain` whenever the two readings could differ."""
    if _FAST_LOADER is None or text.startswith("%") or "\n%" in text:
        raise _NotCertain  # no libyaml, or a %YAML directive that may switch to 1.1 rules
    try:
        node = libyaml.compose(text, Loader=_FAST_LOADER)
    except (libyaml.YAMLError, UnicodeError) as exc:  # UnicodeError: a lone surrogate
        raise _NotCertain from exc
    if node is None or node.tag != _MAP:
        raise _NotCertain
    data: dict[str, Any] = _node_data(node)
    return data


@functools.lru_cache(maxsize=4096)
def _implicit_tag(plain: str) -> str:
    """The tag libyaml gives an untagged plain scalar; keys and common values repeat a lot."""
    return str(_RESOLVER.resolve(libyaml.ScalarNode, plain, (True, False)))


def _node_data(node: Any) -> Any:
    if isinstance(node, libyaml.MappingNode):
        if node.tag != _MAP:
            raise _NotCertain
        data: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _node_data(key_node)
            key = key if isinstance(key, str) else str(key)  # as _plain does
            if key in data:
                raise _NotCertain  # ruamel rejects duplicate keys, with their position
            data[key] = _node_data(value_node)
        return data
    if isinstance(node, libyaml.SequenceNode):
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
    if _UNIT_QUANTITY.fullmatch(value):
        return value  # 2s, 1m30s, 256Mi: a string in YAML 1.1 and 1.2 alike
    if _AMBIGUOUS.match(value):
        raise _NotCertain
    return value


@functools.lru_cache(maxsize=2048)
def _fast_manifest(text: str) -> AppManifest | None:
    """The manifest when libyaml reads it certainly as ruamel would and it validates; else
    None, and the precise path decides (and explains).

    Cached by text (the manifest is frozen, so sharing it is safe): a review reads most files
    unchanged at both revisions, and the loop reads every unchanged file again each pass. An
    unchanged file also yields the very same object, which the review compares by identity.
    """
    try:
        return AppManifest.model_validate(_fast_data(text))
    except (_NotCertain, ValidationError, RecursionError):
        return None


# --- the precise path: ruamel, with positions ---------------------------------------------


def too_large_problem(file: str, size: int) -> ManifestProblem:
    return ManifestProblem(
        file,
        None,
        None,
        "",
        f"the file is {size} bytes; a manifest may have at most {MAX_MANIFEST_BYTES} bytes",
    )


def yaml_alias_problem(text: str, *, file: str) -> ManifestProblem | None:
    """The first YAML anchor (``&a``) or alias (``*a``) in *text*, as a problem.

    Manifests never need them, and aliases expand: a few hundred bytes can stand for gigabytes
    (the "billion laughs"), which would hold the loop for minutes. Only the event stream is
    read (linear in the text), never the expanded document. Text that is not YAML at all is
    left to the loader, which explains it with its position.
    """
    if "&" not in text and "*" not in text:
        return None  # YAML writes every anchor with "&" and every alias with "*"
    try:
        if _FAST_LOADER is not None:
            events: Iterable[Any] = libyaml.parse(text, Loader=_FAST_LOADER)
        else:
            events = _yaml().parse(io.StringIO(text))
        for event in events:
            alias = type(event).__name__ == "AliasEvent"
            if alias or getattr(event, "anchor", None):
                mark = event.start_mark
                what = f"alias *{event.anchor}" if alias else f"anchor &{event.anchor}"
                return ManifestProblem(
                    file,
                    mark.line + 1,
                    mark.column + 1,
                    "",
                    f"YAML anchors and aliases are not allowed in manifests ({what}); "
                    "write the value out",
                )
    except (libyaml.YAMLError, YAMLError, UnicodeError):
        return None
    return None


def parse_manifest(text: str, *, file: str) -> AppManifest:
    """Parse and validate one manifest; raise :class:`ManifestErrors` with every problem.

    Refused before any parsing: more than :data:`MAX_MANIFEST_BYTES`, and any anchor or alias.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_MANIFEST_BYTES:
        raise ManifestErrors([too_large_problem(file, size)])
    alias = yaml_alias_problem(text, file=file)
    if alias is not None:
        raise ManifestErrors([alias])
    manifest = _fast_manifest(text)
    if manifest is not None:
        return manifest
    try:
        root = _yaml().load(io.StringIO(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        reason = (exc.problem or exc.context or "invalid YAML").strip()
        if "duplicate key" in reason:
            # ruamel echoes both values; a manifest value is not for error messages.
            reason = (
                "duplicate key "
                + reason.split("duplicate key", 1)[1].split(" with value")[0].strip()
            )
        raise ManifestErrors([ManifestProblem(file, line, column, "", reason)]) from None
    except YAMLError as exc:
        raise ManifestErrors(
            [ManifestProblem(file, None, None, "", f"invalid YAML: {exc}")]
        ) from None
    if root is None:
        raise ManifestErrors([ManifestProblem(file, 1, 1, "", "the file is empty")])
    if not isinstance(root, CommentedMap):
        kind = "a list" if isinstance(root, CommentedSeq) else f"a {type(root).__name__}"
        raise ManifestErrors(
            [ManifestProblem(file, 1, 1, "", f"a manifest must be a mapping, not {kind}")]
        )
    return validate_manifest(_plain(root), file=file, positions=root)


def validate_manifest(data: Any, *, file: str, positions: Any = None) -> AppManifest:
    """Validate already-parsed data (YAML or a JSON request body) as an app manifest."""
    try:
        return AppManifest.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = _validation_loc(error)
            at_key = error.get("type") == "extra_forbidden" or "[key]" in error.get("loc", ())
            line, column = (
                _position(positions, loc, at_key=at_key) if positions is not None else (None, None)
            )
            problems.append(ManifestProblem(file, line, column, _field_path(loc), _message(error)))
        raise ManifestErrors(problems) from None


def app_name_for(path: str, *, apps_dir: str) -> str | None:
    """The app name a manifest file must declare, or None when *path* is not a manifest."""
    directory, file_name = posixpath.split(path)
    stem, suffix = posixpath.splitext(file_name)
    if directory != apps_dir.strip("/") or suffix not in MANIFEST_SUFFIXES:
        return None
    return stem


def reserved_port_problems(
    manifest: AppManifest, *, file: str, reserved: Collection[int], text: str | None = None
) -> list[ManifestProblem]:
    """A fixed host port the server keeps for itself (its API's listen port) is refused, with
    the position of the field when the manifest *text* is at hand."""
    if not reserved:
        return []
    fields: list[tuple[tuple[int | str, ...], int | None]] = []
    for prefix, item in (
        [((), manifest)]
        if manifest.services is None
        else [(("services", n), s) for n, s in enumerate(manifest.services)]
    ):
        fields.append(((*prefix, "hostPort"), item.hostPort))
        fields += [((*prefix, "ports", i, "host"), p.host) for i, p in enumerate(item.ports or ())]
    root = _yaml().load(io.StringIO(text)) if text is not None else None
    return [
        ManifestProblem(
            file,
            *_position(root, loc),
            _field_path(loc),
            f"host port {port} is gitberth's own API port (serve --listen); pick another",
        )
        for loc, port in fields
        if port is not None and port in reserved
    ]


def check_binds(
    manifest: AppManifest, *, text: str | None, file: str, policy: BindPolicy
) -> list[ManifestProblem]:
    """Every bind mount of *manifest* that *policy* refuses, with its line when *text* (the
    manifest's YAML) is given."""
    refused = bind_problems(manifest, policy=policy)
    if not refused:
        return []
    root = _yaml().load(io.StringIO(text)) if text is not None else None
    problems = []
    for path, message in refused:
        loc = tuple(int(part) if part.isdigit() else part for part in path.split("."))
        line, column = _position(root, loc) if root is not None else (None, None)
        problems.append(ManifestProblem(file, line, column, path, message))
    return problems


def load_manifests(
    files: Mapping[str, str],
    *,
    apps_dir: str = "apps",
    not_utf8: Collection[str] = (),
    reserved_host_ports: Collection[int] = (),
    binds: BindPolicy | None = None,
    too_large: Mapping[str, int] | None = None,
) -> LoadResult:
    """Validate every manifest under *apps_dir* of a revision, one app's failure isolated.

    *files* maps repository-relative paths to text; *not_utf8* names the paths whose bytes were
    not UTF-8 (the caller decoded nothing for them), *too_large* the paths (with their sizes)
    over :data:`MAX_MANIFEST_BYTES` (not read at all). Problems are grouped by app name so that
    a broken app can be held while every other app goes on. A fixed host port among
    *reserved_host_ports* (the server's own) is a problem of its app, and so is a bind mount
    that *binds* (by default: no bind at all) refuses.
    """
    apps: dict[str, AppManifest] = {}
    problems: dict[str, list[ManifestProblem]] = {}
    paths_by_name: dict[str, list[str]] = {}
    for path in sorted(files):
        name = app_name_for(path, apps_dir=apps_dir)
        if name is not None:
            paths_by_name.setdefault(name, []).append(path)

    for name, paths in sorted(paths_by_name.items()):
        if len(paths) > 1:
            problems[name] = [
                ManifestProblem(
                    p, None, None, "name", f"app {name!r} is defined twice: " + " and ".join(paths)
                )
                for p in paths
            ]
            continue
        path = paths[0]
        if too_large and path in too_large:
            problems[name] = [too_large_problem(path, too_large[path])]
            continue
        if path in not_utf8:
            problems[name] = [ManifestProblem(path, None, None, "", "the file is not UTF-8 text")]
            continue
        try:
            manifest = parse_manifest(files[path], file=path)
        except ManifestErrors as exc:
            problems[name] = list(exc.problems)
            continue
        if manifest.name != name:
            problems[name] = [
                ManifestProblem(
                    path,
                    _name_line(files[path]),
                    None,
                    "name",
                    f"{path} must declare name: {name} (it declares {manifest.name!r})",
                )
            ]
            continue
        refused = check_binds(
            manifest, text=files[path], file=path, policy=binds or BindPolicy()
        ) + reserved_port_problems(
            manifest, file=path, reserved=reserved_host_ports, text=files[path]
        )
        if refused:
            problems[name] = refused
            continue
        apps[name] = manifest

    _check_container_name_clashes(apps, problems, paths_by_name)
    return LoadResult(
        apps=apps,
        problems={k: tuple(v) for k, v in problems.items()},
        files={name: paths[0] for name, paths in paths_by_name.items()},
    )


def _name_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("name:"):
            return number
    return None


def _check_container_name_clashes(
    apps: dict[str, AppManifest],
    problems: dict[str, list[ManifestProblem]],
    paths_by_name: Mapping[str, list[str]],
) -> None:
    """Hold apps whose container names would collide with another app's (e.g. ``a-b`` and
    app ``a`` with service ``b``): Docker names are global, so only one of them could run."""
    owner: dict[str, str] = {}
    for name in sorted(apps):
        for spec in apps[name].service_specs():
            base = container_base(spec.app, spec.service)
            other = owner.setdefault(base, name)
            if other != name:
                path = paths_by_name[name][0]
                problems.setdefault(name, []).append(
                    ManifestProblem(
                        path,
                        None,
                        None,
                        "services",
                        f"containers {base}-<n> would clash with app {other!r}; rename a service",
                    )
                )
    for name in problems:
        apps.pop(name, None)


def container_name_clash(
    manifest: AppManifest, others: Mapping[str, AppManifest]
) -> tuple[str, str] | None:
    """``(other app, container base)`` when *manifest*'s containers would take names that
    another app's already have (app ``a-b`` against app ``a`` with service ``b``), else None."""
    bases = {container_base(spec.app, spec.service) for spec in manifest.service_specs()}
    for name in sorted(others):
        if name == manifest.name:
            continue
        for spec in others[name].service_specs():
            base = container_base(spec.app, spec.service)
            if base in bases:
                return name, base
    return None
