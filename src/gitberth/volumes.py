"""The apps' volumes on the engine: which exist, whom they belong to, who uses them, and the
one way to delete them.

A deploy never deletes data: removing an app or a volume from a manifest leaves the volume
behind, orphaned. This module is how an operator sees those (``gitberth volumes``) and
deletes them on purpose (``gitberth volumes prune APP --yes``), never while a container still
mounts one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests

from gitberth.core.errors import ActionFailedError, RuntimeUnavailableError
from gitberth.runtime.base import LABEL_APP, LABEL_MANAGED, LABEL_VOLUME


@dataclass(frozen=True)
class VolumeInfo:
    """One gitberth volume: its engine name, app, name in the manifest, and its users."""

    engine_name: str
    app: str
    volume: str
    used_by: tuple[str, ...]
    created_at: str | None = None

    @property
    def orphaned(self) -> bool:
        return not self.used_by


def list_volumes(client: docker.DockerClient, *, app: str | None = None) -> list[VolumeInfo]:
    """Every volume gitberth created (of *app* only, when given), with the containers that
    mount it (running or not); two engine calls."""
    with _engine("listing volumes"):
        rows = client.api.volumes(filters={"label": f"{LABEL_MANAGED}=true"}).get("Volumes")
        containers = client.api.containers(all=True)
    users: dict[str, list[str]] = {}
    for container in containers:
        name = ((container.get("Names") or ["?"])[0]).lstrip("/")
        for mount in container.get("Mounts") or []:
            if mount.get("Type") == "volume" and mount.get("Name"):
                users.setdefault(str(mount["Name"]), []).append(name)
    found = []
    for row in rows or []:
        labels: dict[str, Any] = row.get("Labels") or {}
        owner = str(labels.get(LABEL_APP, ""))
        if app is not None and owner != app:
            continue
        found.append(
            VolumeInfo(
                engine_name=str(row["Name"]),
                app=owner,
                volume=str(labels.get(LABEL_VOLUME, "")),
                used_by=tuple(sorted(users.get(str(row["Name"]), []))),
                created_at=row.get("CreatedAt"),
            )
        )
    return sorted(found, key=lambda v: (v.app, v.volume, v.engine_name))


def prune_volumes(client: docker.DockerClient, *, app: str) -> list[str]:
    """Delete every volume of *app*; refuse (deleting none) while any is mounted."""
    volumes = list_volumes(client, app=app)
    busy = [v for v in volumes if v.used_by]
    if busy:
        raise ActionFailedError(
            "; ".join(f"volume {v.engine_name} is used by {', '.join(v.used_by)}" for v in busy)
            + ": remove the app (or the volume from its manifest) and let gitberth remove "
            "its containers first; nothing was deleted"
        )
    deleted = []
    for volume in volumes:
        with _engine(f"removing volume {volume.engine_name}"):
            try:
                client.api.remove_volume(volume.engine_name)
            except docker.errors.NotFound:
                continue
        deleted.append(volume.engine_name)
    return deleted


@contextlib.contextmanager
def _engine(doing: str) -> Iterator[None]:
    try:
        yield
    except docker.errors.APIError as exc:
        raise ActionFailedError(f"{doing}: {exc.explanation or exc}") from exc
    except (requests.ConnectionError, docker.errors.DockerException, OSError) as exc:
        raise RuntimeUnavailableError(f"Docker engine unreachable while {doing}: {exc}") from exc
