"""Checks a manifest must pass beyond its own schema: the server's reserved host ports, the
bind-mount policy, and container names that would clash with another app's.

Apart from parsing because they depend on the server's settings or on the other apps of the
revision, not on the file alone.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping

from gitberth.core.binds import BindPolicy, bind_problems
from gitberth.core.errors import ManifestProblem
from gitberth.core.manifest_positions import field_path, position_of, yaml_loader
from gitberth.core.models import AppManifest, container_base


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
    root = yaml_loader().load(io.StringIO(text)) if text is not None else None
    return [
        ManifestProblem(
            file,
            *position_of(root, loc),
            field_path(loc),
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
    root = yaml_loader().load(io.StringIO(text)) if text is not None else None
    problems = []
    for path, message in refused:
        loc = tuple(int(part) if part.isdigit() else part for part in path.split("."))
        line, column = position_of(root, loc) if root is not None else (None, None)
        problems.append(ManifestProblem(file, line, column, path, message))
    return problems


def container_bases(manifest: AppManifest) -> list[str]:
    """The name base of each service's containers (what :meth:`AppManifest.service_specs`
    names them by), without normalizing every service: a revision checks all its apps."""
    if manifest.services is None:
        return [container_base(manifest.name, manifest.name)]
    return [container_base(manifest.name, service.name) for service in manifest.services]


def check_container_name_clashes(
    apps: dict[str, AppManifest],
    problems: dict[str, list[ManifestProblem]],
    paths_by_name: Mapping[str, list[str]],
) -> None:
    """Hold apps whose container names would collide with another app's (e.g. ``a-b`` and
    app ``a`` with service ``b``): Docker names are global, so only one of them could run."""
    owner: dict[str, str] = {}
    for name in sorted(apps):
        for base in container_bases(apps[name]):
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
    bases = set(container_bases(manifest))
    for name in sorted(others):
        if name == manifest.name:
            continue
        for base in container_bases(others[name]):
            if base in bases:
                return name, base
    return None
