"""The Docker engine adapter: one list call to observe, one SDK call sequence per action.

Every engine error is mapped onto gitberth's own: an engine that does not answer becomes
:class:`RuntimeUnavailableError` (retry later), anything an action trips over becomes
:class:`ActionFailedError` (that app fails, the others go on).
"""

from __future__ import annotations

import collections
import contextlib
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import docker
import docker.errors
import requests

from gitberth.core.errors import ActionFailedError, RuntimeUnavailableError
from gitberth.core.models import ContainerState, ObservedContainer, ResolvedService
from gitberth.core.plan import Action, ActionKind
from gitberth.defaults import DEFAULT_GRACE_SECONDS, DEFAULT_ROLLOUT_TIMEOUT
from gitberth.rollout import Condition
from gitberth.rollout import replace as rollout_replace
from gitberth.runtime.base import (
    LABEL_APP,
    LABEL_REVISION,
    LABEL_SERVICE,
    LABEL_SPEC_HASH,
    OWNERSHIP_LABELS,
)
from gitberth.runtime.docker_args import SECRETS_MOUNT_POINT, to_create_kwargs
from gitberth.runtime.secret_files import SecretFilesRoot


class DockerRuntime:
    """Drives one Docker engine (``DOCKER_HOST`` or the default socket)."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        grace_seconds: int = DEFAULT_GRACE_SECONDS,
        secret_files: SecretFilesRoot | None = None,
        rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
    ) -> None:
        self._client = client
        self.grace_seconds = grace_seconds
        self.rollout_timeout = rollout_timeout
        self.secret_files = secret_files
        self._secret_dirs: dict[str, str] = {}  # container id -> its secrets directory
        self.calls: collections.Counter[str] = collections.Counter()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            with _engine_errors("connecting to Docker"):
                self._client = docker.from_env()
            self._client.api.hooks["response"].append(self._count)
        return self._client

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Count every engine request by method and path, so tests can prove how many calls a
        pass makes against the real engine."""
        request = response.request
        path = (request.path_url or "").split("?", 1)[0]
        segments = [s for s in path.split("/") if s]
        if segments and segments[0].startswith("v1."):
            segments = segments[1:]
        # Collapse ids so /containers/<id>/start counts as one kind of call.
        if len(segments) >= 3 and segments[0] == "containers":
            segments[1] = "{id}"
        self.calls[f"{request.method} /{'/'.join(segments)}"] += 1

    def list_calls(self) -> int:
        return self.calls["GET /containers/json"]

    def observe(self) -> list[ObservedContainer]:
        with _engine_errors("listing containers"):
            rows = self.client.api.containers(all=True, filters={"label": list(OWNERSHIP_LABELS)})
        for row in rows:
            source = secrets_mount_source(row)
            if source is not None:
                self._secret_dirs[str(row["Id"])] = source
        return [observed_from_row(row) for row in rows]

    def sweep_secret_files(self) -> None:
        """Remove secrets directories that no managed container mounts (left by a crash)."""
        if self.secret_files is None:
            return
        self.observe()
        self.secret_files.sweep(in_use=self._secret_dirs.values())

    def apply(self, action: Action, *, revision: str) -> ObservedContainer | None:
        if action.kind is ActionKind.KEEP:
            return None
        if action.kind is ActionKind.REMOVE:
            assert action.container_id is not None
            self._stop_and_remove(action.container_id, name=action.container_name)
            return None
        assert action.target is not None
        if action.kind is ActionKind.REPLACE:
            return rollout_replace(self, action, revision=revision, timeout=self.rollout_timeout)
        return self._create_and_start(action.target, name=action.container_name, revision=revision)

    # The RolloutEngine operations (see gitberth.rollout), one engine call sequence each.

    def start_container(
        self, service: ResolvedService, *, name: str, revision: str
    ) -> ObservedContainer:
        return self._create_and_start(service, name=name, revision=revision)

    def condition(self, container_id: str) -> Condition:
        with _engine_errors("inspecting a new container"):
            attrs = self.client.api.inspect_container(container_id)
        state = attrs.get("State") or {}
        status = str(state.get("Status") or "unknown")
        if not state.get("Running") and status == "exited":
            status = f"exited with code {state.get('ExitCode')}"
        health = (state.get("Health") or {}).get("Status")
        return Condition(
            running=bool(state.get("Running")) and not state.get("Restarting"),
            status=status,
            health=str(health) if health else None,
            host_port=observed_from_attrs(attrs).host_port,
        )

    def stop_container(self, container_id: str) -> None:
        with _engine_errors("stopping the old container"):
            self.client.api.stop(container_id, timeout=self.grace_seconds)

    def restart_container(self, container_id: str) -> None:
        with _engine_errors("starting the old container again"):
            self.client.api.start(container_id)

    def remove_container(self, container_id: str, *, name: str) -> None:
        self._stop_and_remove(container_id, name=name)

    def rename_container(self, container_id: str, *, name: str) -> None:
        with _engine_errors(f"renaming the new container to {name}"):
            self.client.api.rename(container_id, name)

    def last_output(self, container_id: str, *, lines: int) -> list[str]:
        try:
            raw = self.client.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except (docker.errors.DockerException, requests.RequestException, OSError):
            return []
        return bytes(raw).decode("utf-8", errors="replace").splitlines()

    def _create_and_start(
        self, service: ResolvedService, *, name: str, revision: str
    ) -> ObservedContainer:
        secrets_dir = None
        if service.files:
            if self.secret_files is None:
                raise ActionFailedError(
                    f"{name} needs secret files but no secrets directory is set"
                )
            secrets_dir = str(self.secret_files.write(container_name=name, files=service.files))
        kwargs = to_create_kwargs(service, name=name, revision=revision, secrets_dir=secrets_dir)
        container = None
        try:
            with _engine_errors(f"creating {name}", image=service.spec.image):
                container = self.client.containers.create(**kwargs)
            with _engine_errors(f"starting {name}"):
                container.start()
                container.reload()
        except ActionFailedError:
            if container is not None:
                with contextlib.suppress(docker.errors.APIError, requests.RequestException):
                    container.remove(force=True)
            if secrets_dir is not None and self.secret_files is not None:
                self.secret_files.remove(secrets_dir)
            raise
        if secrets_dir is not None:
            self._secret_dirs[str(container.id)] = secrets_dir
        return observed_from_attrs(container.attrs)

    def _stop_and_remove(self, container_id: str, *, name: str) -> None:
        with _engine_errors(f"removing {name}"):
            try:
                self.client.api.stop(container_id, timeout=self.grace_seconds)
                self.client.api.remove_container(container_id, force=True)
            except docker.errors.NotFound:
                pass  # already gone: the desired outcome
        secrets_dir = self._secret_dirs.pop(container_id, None)
        if secrets_dir is not None and self.secret_files is not None:
            self.secret_files.remove(secrets_dir)


@contextlib.contextmanager
def _engine_errors(doing: str, *, image: str | None = None) -> Iterator[None]:
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise ActionFailedError(
            f"{doing}: image {image or ''} is not present on the engine (gitberth does not pull; "
            "build or load it first)"
        ) from exc
    except docker.errors.APIError as exc:
        if exc.status_code == 409 and "name" in str(exc.explanation or ""):
            raise ActionFailedError(
                f"{doing}: the name is taken by a container gitberth does not manage"
            ) from exc
        raise ActionFailedError(f"{doing}: {exc.explanation or exc}") from exc
    except (requests.ConnectionError, docker.errors.DockerException, OSError) as exc:
        raise RuntimeUnavailableError(f"Docker engine unreachable while {doing}: {exc}") from exc


def secrets_mount_source(row: dict[str, Any]) -> str | None:
    """The host directory bind-mounted at /run/secrets, from a list row or inspect document."""
    for mount in row.get("Mounts") or []:
        if mount.get("Destination") == SECRETS_MOUNT_POINT and mount.get("Type") == "bind":
            return str(mount.get("Source"))
    return None


def _state(value: str | None) -> ContainerState:
    try:
        return ContainerState(value or "unknown")
    except ValueError:
        return ContainerState.UNKNOWN


_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")


def created_epoch(value: Any) -> float | None:
    """``Created`` as POSIX seconds: the list row gives an integer, ``inspect`` an RFC 3339
    string with nanoseconds (more digits than :mod:`datetime` reads). None when absent or odd."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    whole, fraction, zone = match.groups()
    try:
        seconds = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone)).timestamp()
    except ValueError:
        return None
    return seconds + float("0" + fraction) if fraction else seconds


def observed_from_row(row: dict[str, Any]) -> ObservedContainer:
    """Build an :class:`ObservedContainer` from one ``GET /containers/json`` row."""
    labels: dict[str, str] = row.get("Labels") or {}
    names: list[str] = row.get("Names") or []
    host_port = None
    for port in row.get("Ports") or []:
        if port.get("PublicPort"):
            host_port = int(port["PublicPort"])
            break
    return ObservedContainer(
        id=str(row["Id"]),
        name=names[0].lstrip("/") if names else str(row["Id"])[:12],
        app=labels[LABEL_APP],
        service=labels[LABEL_SERVICE],
        spec_hash=labels[LABEL_SPEC_HASH],
        revision=labels[LABEL_REVISION],
        state=_state(row.get("State")),
        image=str(row.get("Image", "")),
        host_port=host_port,
        labels=labels,
        created_at=created_epoch(row.get("Created")),
    )


def observed_from_attrs(attrs: dict[str, Any]) -> ObservedContainer:
    """Build an :class:`ObservedContainer` from a full ``inspect`` document."""
    labels: dict[str, str] = attrs["Config"].get("Labels") or {}
    host_port = None
    for bindings in (attrs.get("NetworkSettings", {}).get("Ports") or {}).values():
        for binding in bindings or []:
            if binding.get("HostPort"):
                host_port = int(binding["HostPort"])
                break
    return ObservedContainer(
        id=str(attrs["Id"]),
        name=str(attrs["Name"]).lstrip("/"),
        app=labels[LABEL_APP],
        service=labels[LABEL_SERVICE],
        spec_hash=labels[LABEL_SPEC_HASH],
        revision=labels[LABEL_REVISION],
        state=_state(attrs.get("State", {}).get("Status")),
        image=str(attrs["Config"].get("Image", "")),
        host_port=host_port,
        labels=labels,
        created_at=created_epoch(attrs.get("Created")),
    )
