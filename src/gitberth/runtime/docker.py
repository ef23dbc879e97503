"""The Docker engine adapter: one list call to observe, one SDK call sequence per action.

Every engine error is mapped onto gitberth's own: an engine that does not answer becomes
:class:`RuntimeUnavailableError` (retry later), anything an action trips over becomes
:class:`ActionFailedError` (that app fails, the others go on).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

import docker
import docker.errors
import docker.models.containers
import requests

from gitberth import faults
from gitberth.core.backoff import Backoff
from gitberth.core.binds import BindPolicy
from gitberth.core.errors import ActionFailedError, RuntimeUnavailableError
from gitberth.core.observed import ObservedContainer
from gitberth.core.plan import Action, ActionKind
from gitberth.core.resolved import ResolvedService
from gitberth.core.wiring import app_network_name, volume_engine_name
from gitberth.defaults import DEFAULT_GRACE_SECONDS, DEFAULT_ROLLOUT_TIMEOUT
from gitberth.runtime.base import (
    OWNERSHIP_LABELS,
    PullRequest,
    RuntimeEvent,
)
from gitberth.runtime.docker_args import (
    PUBLISH_ADDRESS,
    shared_network_aliases,
    to_create_kwargs,
)
from gitberth.runtime.docker_events import EventWatcher, OwnStops
from gitberth.runtime.docker_logs import DockerLogs
from gitberth.runtime.docker_observed import (
    container_endpoint,
    last_health_output,
    observed_from_attrs,
    observed_from_row,
    probe_address,
    secrets_mount_source,
)
from gitberth.runtime.engine_calls import request_kind
from gitberth.runtime.engine_resources import EngineResources
from gitberth.runtime.rollout import STAGING_SUFFIX, Condition
from gitberth.runtime.rollout import create as rollout_create
from gitberth.runtime.rollout import replace as rollout_replace
from gitberth.runtime.secret_files import SecretFilesRoot


class DockerRuntime:
    """Drives one Docker engine (``DOCKER_HOST`` or the default socket)."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        source: str,
        grace_seconds: int = DEFAULT_GRACE_SECONDS,
        secret_files: SecretFilesRoot | None = None,
        rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
        publish_address: str = PUBLISH_ADDRESS,
        bind_policy: BindPolicy | None = None,
        events_client: Callable[[], docker.DockerClient] = docker.from_env,
    ) -> None:
        """*publish_address* is where ports that name no address are published; give the
        reconciler the same one (it enters the spec hash). *bind_policy* says which host paths
        manifests may bind-mount (default: none). *events_client* opens the connection the
        event stream is read on (its own, so the stream never holds up an action's calls)."""
        self._client = client
        self.source = source
        self.bind_policy = bind_policy or BindPolicy()
        self.resources = EngineResources(lambda: self.client, source=source)
        self.grace_seconds = grace_seconds
        self.publish_address = publish_address
        self.rollout_timeout = rollout_timeout
        self.secret_files = secret_files
        self._secret_dirs: dict[str, str] = {}  # container id -> its secrets directory
        # container id -> the stop timeout it was created with, for the containers this
        # process created: stopping one then needs no inspect first (a replace's critical path)
        self._stop_timeouts: dict[str, int] = {}
        self._own_stops = OwnStops()
        self.logs = DockerLogs(source=source)
        self._events = EventWatcher(
            connect=events_client,
            source=source,
            own_stops=self._own_stops,
            on_gone=self._forget_container,
        )
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
        self.calls[request_kind(str(request.method), request.path_url or "")] += 1

    def observe(self) -> list[ObservedContainer]:
        with _engine_errors("listing containers"):
            rows = self.client.api.containers(all=True, filters={"label": list(OWNERSHIP_LABELS)})
        for row in rows:
            source = secrets_mount_source(row)
            if source is not None:
                self._secret_dirs[str(row["Id"])] = source
        return [self._with_health_output(observed_from_row(row)) for row in rows]

    def _with_health_output(self, container: ObservedContainer) -> ObservedContainer:
        """An unhealthy container with its check's last output (one inspect each; healthy
        ones cost nothing, so a quiet pass stays one list call)."""
        if container.health != "unhealthy":
            return container
        try:
            attrs = self.client.api.inspect_container(container.id)
        except (docker.errors.DockerException, requests.RequestException):
            return container  # gone meanwhile, or the engine hiccupped: the output is a nicety
        output = last_health_output(attrs.get("State") or {})
        return dataclasses.replace(container, health_output=output)

    # Networks, volumes and pulls (HostResources), see gitberth.runtime.engine_resources.

    def pull_images(
        self, requests: Sequence[PullRequest], *, workers: int
    ) -> dict[tuple[str, str, str | None], str | None]:
        return self.resources.pull_images(requests, workers=workers)

    def release_networks(self, *, keep: Collection[str], changed: bool) -> None:
        self.resources.release_networks(keep=keep, changed=changed)

    def sweep(self) -> None:
        """Remove secrets directories that no managed container mounts (left by a crash)."""
        if self.secret_files is None:
            return
        self.observe()
        self.secret_files.sweep(in_use=self._secret_dirs.values(), source=self.source)

    def watch(
        self, on_event: Callable[[RuntimeEvent], None], *, stop: threading.Event, backoff: Backoff
    ) -> None:
        """Follow the engine's events (see :mod:`gitberth.runtime.docker_events`)."""
        self._events.watch(on_event, stop=stop, backoff=backoff)

    def _forget_container(self, container_id: str) -> None:
        """A container is gone (removed by hand, say): delete its secret files now."""
        self._stop_timeouts.pop(container_id, None)
        secrets_dir = self._secret_dirs.pop(container_id, None)
        if secrets_dir is not None and self.secret_files is not None:
            self.secret_files.remove(secrets_dir)

    def settle(self, container_ids: Iterable[str], *, timeout: float) -> None:
        """Wait (at most *timeout* seconds) until the engine no longer reports these containers
        as running; Docker emits ``die`` just before it records the exit."""
        deadline = time.monotonic() + timeout
        for container_id in container_ids:
            while time.monotonic() < deadline:
                try:
                    with _engine_errors("inspecting a container that died"):
                        state = self.client.api.inspect_container(container_id).get("State") or {}
                except (ActionFailedError, RuntimeUnavailableError):
                    break  # gone, or no engine: the pass finds out for itself
                if not state.get("Running") or state.get("Restarting"):
                    break
                time.sleep(0.02)

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
        return rollout_create(self, action, revision=revision, timeout=self.rollout_timeout)

    # The RolloutEngine operations (see gitberth.runtime.rollout), one engine call sequence each.

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
        restarts = int(attrs.get("RestartCount") or 0)
        if restarts:
            status = f"{status}; last exit code {state.get('ExitCode')}"
        observed = observed_from_attrs(attrs)
        addresses, port = container_endpoint(attrs)
        return Condition(
            running=bool(state.get("Running")) and not state.get("Restarting"),
            status=status,
            health=str(health) if health else None,
            host_port=observed.host_port,
            host_address=probe_address(observed.host_address),
            health_output=last_health_output(state),
            restarts=restarts,
            container_addresses=addresses,
            container_port=port,
        )

    def stop_container(self, container_id: str) -> None:
        self._own_stops.note(container_id)
        with _engine_errors("stopping the old container"):
            self._stop(container_id)
        faults.reached("old-stopped")

    def _stop(self, container_id: str) -> None:
        """Stop with the container's own stop timeout (its ``stopGracePeriod``, else the
        ``--grace`` it was created with); containers older than that get ``--grace``."""
        timeout = self._stop_timeouts.get(container_id)
        if timeout is None:
            attrs = self.client.api.inspect_container(container_id)
            configured = (attrs.get("Config") or {}).get("StopTimeout")
            timeout = int(configured) if isinstance(configured, int) else self.grace_seconds
        self.client.api.stop(container_id, timeout=timeout)

    def restart_container(self, container_id: str) -> None:
        self._own_stops.running_again(container_id)
        with _engine_errors("starting the old container again"):
            self.client.api.start(container_id)

    def remove_container(self, container_id: str, *, name: str) -> None:
        stopped = False
        if not name.endswith(STAGING_SUFFIX):  # the old container of a start-first replace
            with contextlib.suppress(ActionFailedError):
                self.stop_container(container_id)
                stopped = True
        self._stop_and_remove(container_id, name=name, stopped=stopped)

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
            secrets_dir = str(
                self.secret_files.write(
                    container_name=name,
                    files=service.files,
                    user=service.spec.options.user or self._image_user(service.spec.image),
                    source=self.source,
                )
            )
        container = None
        try:
            kwargs = to_create_kwargs(
                service,
                name=name,
                revision=revision,
                source=self.source,
                secrets_dir=secrets_dir,
                publish_address=self.publish_address,
                stop_grace_seconds=self.grace_seconds,
                bind_sources=self.bind_policy.mount_sources(service.spec.volumes),
            )
            container = self._create_on_networks(service, name=name, kwargs=kwargs)
            if isinstance(kwargs.get("stop_timeout"), int):
                self._stop_timeouts[str(container.id)] = kwargs["stop_timeout"]
            if name.endswith(STAGING_SUFFIX):
                faults.reached("created")
            with _engine_errors(f"starting {name}"):
                container.start()
                container.reload()
            if name.endswith(STAGING_SUFFIX):
                faults.reached("started")
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

    def _create(self, kwargs: dict[str, Any]) -> Any:
        """``containers.create`` with a stop timeout, which only the low-level call takes: the
        SDK's own translation of the high-level arguments, plus ``stop_timeout``."""
        arguments = dict(kwargs)
        stop_timeout = arguments.pop("stop_timeout", None)
        arguments.setdefault("command", None)
        arguments["version"] = self.client.api.api_version
        # The SDK's own split into create and host-config arguments (docker >= 3, unchanged).
        create_args = docker.models.containers._create_container_args(arguments)  # type: ignore[attr-defined]
        if stop_timeout is not None:
            create_args["stop_timeout"] = stop_timeout
        response = self.client.api.create_container(**create_args)
        # a model around the id alone: start() needs no more, and the reload after it reads
        # the attributes once (an inspect here would read them twice)
        return self.client.containers.prepare_model({"Id": response["Id"]})

    def _image_user(self, image: str) -> str | None:
        """The ``USER`` the image runs as (its secret files must be readable by it), or None
        when the image is not there (creating the container fails and says so)."""
        try:
            attrs = self.client.images.get(image).attrs
        except (docker.errors.APIError, requests.RequestException):
            return None
        user = (attrs.get("Config") or {}).get("User")
        return str(user) if user else None

    def _create_on_networks(
        self, service: ResolvedService, *, name: str, kwargs: dict[str, Any]
    ) -> Any:
        """Create the container on its app's network, with its volumes, then join the shared
        networks; a network removed behind gitberth's back is created again once."""
        spec = service.spec
        for mount in spec.volumes:
            if mount.name is not None:
                engine_name = volume_engine_name(spec.app, mount.name)
                self.resources.ensure_volume(engine_name, app=spec.app, volume=mount.name)
        for attempt in (1, 2):
            self.resources.ensure_networks(app=spec.app, shared=spec.networks)
            container = None
            try:
                with _engine_errors(f"creating {name}", image=spec.image):
                    container = self._create(kwargs)
                    for network in spec.networks:
                        self.client.api.connect_container_to_network(
                            str(container.id), network, aliases=shared_network_aliases(service)
                        )
                return container
            except ActionFailedError as exc:
                if container is not None:
                    with contextlib.suppress(docker.errors.APIError, requests.RequestException):
                        container.remove(force=True)
                if attempt == 2 or "network" not in str(exc) or "not found" not in str(exc):
                    raise
                for network in (app_network_name(spec.app), *spec.networks):
                    self.resources.forget_network(network)
        raise AssertionError("unreachable")

    def _stop_and_remove(self, container_id: str, *, name: str, stopped: bool = False) -> None:
        """Stop gracefully (unless *stopped* already: a second stop is two more engine calls
        on a replace's critical path), then remove."""
        self._own_stops.note(container_id)
        with _engine_errors(f"removing {name}"):
            try:
                if not stopped:
                    self._stop(container_id)
                self.client.api.remove_container(container_id, force=True)
            except docker.errors.NotFound:
                pass  # already gone: the desired outcome
        self._forget_container(container_id)


@contextlib.contextmanager
def _engine_errors(doing: str, *, image: str | None = None) -> Iterator[None]:
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise ActionFailedError(
            f"{doing}: image {image or ''} is not present on the engine (it was removed after "
            "this pass pulled or found it; the next pass pulls it again)"
        ) from exc
    except docker.errors.APIError as exc:
        if exc.status_code == 409 and "name" in str(exc.explanation or ""):
            raise ActionFailedError(
                f"{doing}: the name is taken by a container this source does not manage "
                "(another gitberth source's, or not gitberth's)"
            ) from exc
        raise ActionFailedError(f"{doing}: {exc.explanation or exc}") from exc
    except (requests.ConnectionError, docker.errors.DockerException, OSError) as exc:
        raise RuntimeUnavailableError(f"Docker engine unreachable while {doing}: {exc}") from exc
