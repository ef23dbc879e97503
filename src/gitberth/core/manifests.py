"""Turn manifest text into validated :class:`AppManifest` values, collecting every problem.

A revision's manifests load one app at a time, so one broken file holds only its own app. The
functions here take text, never paths: reading files is the caller's business. Parsing tries the
libyaml fast path (:mod:`gitberth.core.manifest_fast_path`) and falls back to ruamel, which keeps
positions (:mod:`gitberth.core.manifest_positions`) for every error message; the checks that
depend on the server or on other apps are in :mod:`gitberth.core.manifest_checks`.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml as libyaml
from pydantic import ValidationError

from gitberth.core import manifest_fast_path
from gitberth.core.binds import BindPolicy
from gitberth.core.errors import ManifestErrors, ManifestProblem
from gitberth.core.manifest_checks import (
    check_binds,
    check_container_name_clashes,
    reserved_port_problems,
)
from gitberth.core.manifest_fast_path import fast_manifest
from gitberth.core.manifest_positions import (
    field_path,
    plain_data,
    position_of,
    problem_message,
    validation_loc,
    yaml_loader,
)
from gitberth.core.models import AppManifest

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_MANIFEST_BYTES = 256 * 1024
"""A manifest is a page of YAML; anything near this size is a mistake or an attack, and every
pass, review and deploy reads every manifest."""


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
    errors: tuple[type[Exception], ...] = (libyaml.YAMLError, UnicodeError)
    if manifest_fast_path.FAST_LOADER is not None:
        events: Iterable[Any] = libyaml.parse(text, Loader=manifest_fast_path.FAST_LOADER)
    else:
        from ruamel.yaml.error import YAMLError

        errors = (YAMLError, UnicodeError)
        events = yaml_loader().parse(io.StringIO(text))
    try:
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
    except errors:
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
    manifest = fast_manifest(text)
    if manifest is not None:
        return manifest
    # The precise path: ruamel, which keeps every position for the error messages.
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        root = yaml_loader().load(io.StringIO(text))
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
    return validate_manifest(plain_data(root), file=file, positions=root)


def validate_manifest(data: Any, *, file: str, positions: Any = None) -> AppManifest:
    """Validate already-parsed data (YAML or a JSON request body) as an app manifest."""
    try:
        return AppManifest.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = validation_loc(error)
            at_key = error.get("type") == "extra_forbidden" or "[key]" in error.get("loc", ())
            line, column = (
                position_of(positions, loc, at_key=at_key)
                if positions is not None
                else (None, None)
            )
            problems.append(
                ManifestProblem(file, line, column, field_path(loc), problem_message(error))
            )
        raise ManifestErrors(problems) from None


def app_name_for(path: str, *, apps_dir: str) -> str | None:
    """The app name a manifest file must declare, or None when *path* is not a manifest."""
    directory, file_name = posixpath.split(path)
    stem, suffix = posixpath.splitext(file_name)
    if directory != apps_dir.strip("/") or suffix not in MANIFEST_SUFFIXES:
        return None
    return stem


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

    check_container_name_clashes(apps, problems, paths_by_name)
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
