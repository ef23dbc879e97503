"""The Swarm adapter: the same manifests as Swarm services on a swarm manager.

Each manifest service is one Swarm service (:mod:`gitberth.runtime.swarm_specs`), each
``secretFiles`` key one immutable Swarm secret version (:mod:`gitberth.runtime.swarm_secrets`),
each app one attachable overlay network. gitberth plans per service (replicas are part of what
is compared), and leaves scheduling, restarts and the rolling update itself to Swarm: an update
is start-first, gated by the health check, and rolled back by Swarm when a new task fails; the
adapter only waits for the outcome and reports it.

Observing costs two engine calls (services, then tasks) however many services there are, so a
no-op pass stays cheap; node names are looked up once and again only when a task runs on a node
not seen before. Reading those service and task documents is
:mod:`gitberth.runtime.swarm_observed`; this module drives the engine.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

import docker
import docker.errors
import requests

from gitberth.container_logs import LogReader
from gitberth.core.backoff import Backoff
from gitberth.core.binds import BindPolicy
from gitberth.core.errors import (
    ActionFailedError,
    RolloutFailedError,
    RuntimeUnavailableError,
)
from gitberth.core.observed import ObservedContainer
from gitberth.core.plan import Action, ActionKind
from gitberth.core.resolved import ResolvedService
from gitberth.core.wiring import volume_engine_name
from gitberth.defaults import DEFAULT_GRACE_SECONDS, DEFAULT_ROLLOUT_TIMEOUT
from gitberth.runtime.base import (
    LABEL_MANAGED,
    LABEL_SOURCE,
    LABEL_SPEC_HASH,
    OWNERSHIP_LABELS,
    PullRequest,
    RuntimeEvent,
)
from gitberth.runtime.engine_calls import request_kind
from gitberth.runtime.engine_resources import EngineResources
from gitberth.runtime.swarm_events import ServiceEventWatcher
from gitberth.runtime.swarm_logs import SwarmLogs
from gitberth.runtime.swarm_observed import (
    FAILED_TASK_STATES,
    ROLLED_BACK,
    fresh_count,
    observed_from_service,
    running_count,
    task_errors,
    task_state,
)
from gitberth.runtime.swarm_secrets import (
    LABEL_SECRET,
    SecretVersion,
    numeric_owner,
    secret_reference,
    versions_for,
)
from gitberth.runtime.swarm_specs import monitor_ns, service_spec
from gitberth.runtime.swarm_tasks import TaskBoard

_POLL_SECONDS = 0.25
_NO_ROLLOUT_SECONDS = 3.0
"""An update whose spec Swarm found equal to the running one starts no rollout; after this long
without one, the running tasks are what was asked for."""
_CREATE_PATIENCE = 10
"""A new service waits this many rollout timeouts for its tasks, unless they fail."""
_FAILURES_BEFORE_GIVING_UP = 3
"""A new service whose tasks failed this often has nothing to roll back to: report it."""


def is_swarm_manager(client: docker.DockerClient) -> bool:
    """True when the engine is an active manager of a swarm (``--runtime`` auto-detection)."""
    info = client.info()
    swarm = info.get("Swarm") or {}
    return swarm.get("LocalNodeState") == "active" and bool(swarm.get("ControlAvailable"))


class SwarmRuntime:
    """Drives a Swarm through one manager (``DOCKER_HOST`` or the default socket)."""

    plans_per_service = True
    """The reconciler plans one slot per service, replicas included (see
    :func:`gitberth.core.plan.plan_services`)."""
    apply_workers = 32
    """Apps applied at once: an apply mostly waits for Swarm (on one shared task poller,
    :mod:`gitberth.runtime.swarm_tasks`), so many can wait together without load."""

    def __init__(
        self,
        client: docker.DockerClient | None = None,
        *,
        source: str,
        grace_seconds: int = DEFAULT_GRACE_SECONDS,
        rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT,
        bind_policy: BindPolicy | None = None,
        connect: Callable[[], docker.DockerClient] | None = None,
    ) -> None:
        """*connect* opens a new client of the same manager, for the event stream and log
        followers that hold a connection of their own (default: ``DOCKER_HOST``)."""
        self._client = client
        self._counting = False
        self.source = source
        self.grace_seconds = grace_seconds
        self.rollout_timeout = rollout_timeout
        self.bind_policy = bind_policy or BindPolicy()
        self.resources = EngineResources(
            lambda: self.client, source=source, network_driver="overlay"
        )
        self._node_names: dict[str, str] = {}
        self._events = ServiceEventWatcher(connect=connect or _connect)
        self._tasks = TaskBoard(self._list_tasks)
        self._logs = SwarmLogs(connect=connect or _connect, source=source)
        self.calls: collections.Counter[str] = collections.Counter()

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            with _engine_errors("connecting to the Swarm manager"):
                self._client = docker.from_env()
        if not self._counting:
            self._client.api.hooks["response"].append(self._count)
            self._counting = True
        return self._client

    @property
    def api(self) -> Any:
        """The SDK's low-level client (its service calls are untyped)."""
        return self.client.api

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Count engine requests by method and kind, so tests prove what a pass costs."""
        request = response.request
        self.calls[request_kind(str(request.method), request.path_url or "")] += 1

    def _list_tasks(self) -> list[dict[str, Any]]:
        with _engine_errors("listing tasks"):
            return list(self.api.tasks())

    # -- events, logs, settling and sweeping (the rest of the Runtime seam) -----------------

    @property
    def logs(self) -> LogReader:
        """``docker service logs`` of the app's services (every task, every node)."""
        return self._logs

    def watch(
        self, on_event: Callable[[RuntimeEvent], None], *, stop: threading.Event, backoff: Backoff
    ) -> None:
        """Follow the manager's service events (see :mod:`gitberth.runtime.swarm_events`)."""
        self._events.watch(on_event, stop=stop, backoff=backoff)

    def settle(self, container_ids: Iterable[str], *, timeout: float) -> None:
        """Nothing to wait for: Swarm reschedules a task that died by itself, and reports no
        container deaths to gitberth (see :mod:`gitberth.runtime.swarm_events`)."""

    def sweep(self) -> None:
        """At startup: remove the secret versions a crash left behind (no service mounts)."""
        self.release_secrets()

    # -- observe ----------------------------------------------------------------------------

    def observe(self) -> list[ObservedContainer]:
        """Every gitberth service with its current tasks: two engine calls."""
        with _engine_errors("listing services"):
            services = self.api.services(filters={"label": list(OWNERSHIP_LABELS)})
            if not services:
                return []
            tasks = self.api.tasks()
        by_service: dict[str, list[dict[str, Any]]] = {}
        for task in tasks:
            by_service.setdefault(str(task.get("ServiceID")), []).append(task)
        self._learn_nodes(tasks)
        return [
            observed_from_service(
                service, by_service.get(str(service["ID"]), []), nodes=self._node_names
            )
            for service in services
        ]

    def _learn_nodes(self, tasks: list[dict[str, Any]]) -> None:
        """Node names for status; one nodes call the first time a task runs on a node."""
        if all(str(t.get("NodeID") or "") in self._node_names for t in tasks if t.get("NodeID")):
            return
        with contextlib.suppress(docker.errors.APIError, requests.RequestException):
            for node in self.api.nodes():
                hostname = (node.get("Description") or {}).get("Hostname")
                self._node_names[str(node["ID"])] = str(hostname or node["ID"][:12])

    # -- apply ------------------------------------------------------------------------------

    def apply(self, action: Action, *, revision: str) -> ObservedContainer | None:
        if action.kind is ActionKind.KEEP:
            return None
        if action.kind is ActionKind.REMOVE:
            assert action.container_id is not None
            with _engine_errors(f"removing service {action.container_name}"):
                try:
                    self.api.remove_service(action.container_id)
                except docker.errors.NotFound:
                    pass  # already gone: the desired outcome
            self._wait_tasks_gone(action.container_id, name=action.container_name)
            return None
        assert action.target is not None
        document = self._document(action.target, revision=revision)
        if action.kind is ActionKind.CREATE:
            with _engine_errors(f"creating service {action.container_name}"):
                created = self.api.create_service(**_create_arguments(document))
            return self._wait_created(str(created["ID"]), action.target)
        assert action.container_id is not None
        return self._update(action.container_id, document, action.target)

    def _document(self, service: ResolvedService, *, revision: str) -> dict[str, Any]:
        """Networks, volumes and secret versions first, then the service spec naming them."""
        spec = service.spec
        self.resources.ensure_networks(app=spec.app, shared=spec.networks)
        for mount in spec.volumes:
            if mount.name is not None:
                engine_name = volume_engine_name(spec.app, mount.name)
                self.resources.ensure_volume(engine_name, app=spec.app, volume=mount.name)
        uid = numeric_owner(spec.options.user)
        references = [
            secret_reference(version, secret_id=self._ensure_secret(version), uid=uid)
            for version in versions_for(service, source=self.source)
        ]
        return service_spec(
            service,
            revision=revision,
            source=self.source,
            secrets=references,
            stop_grace_seconds=self.grace_seconds,
            bind_sources=self.bind_policy.mount_sources(service.spec.volumes),
        )

    def _ensure_secret(self, version: SecretVersion) -> str:
        """The id of a secret version, created from the store's value when missing (looked up
        each time: an apply is rare, and a version removed by hand is then simply made again);
        the value goes nowhere but into the engine's secret create call."""
        with _engine_errors(f"creating Swarm secret {version.name}"):
            found = self.api.secrets(filters={"name": version.name})
            match = [s for s in found if (s.get("Spec") or {}).get("Name") == version.name]
            if match:
                labels = (match[0].get("Spec") or {}).get("Labels") or {}
                if labels.get(LABEL_SOURCE) != self.source:
                    raise ActionFailedError(
                        f"Swarm secret {version.name} exists and is not this gitberth "
                        "source's; gitberth never mounts a secret it did not create"
                    )
                return str(match[0]["ID"])
            created = self.api.create_secret(
                version.name,
                version.value.value.get_secret_value().encode(),
                labels=dict(version.labels),
            )
            return str(created["ID"])

    def _update(
        self, service_id: str, document: dict[str, Any], target: ResolvedService
    ) -> ObservedContainer:
        """Update the service in place; Swarm rolls the tasks (or only scales them) and rolls
        back by itself when a new task fails, which is reported as a failed rollout."""
        name = document["Name"]
        with _engine_errors(f"updating service {name}"):
            current = self.api.inspect_service(service_id)
            before = (current.get("UpdateStatus") or {}).get("StartedAt")
            labels = (current.get("Spec") or {}).get("Labels") or {}
            rolls = labels.get(LABEL_SPEC_HASH) != target.spec_hash  # else only a scale
            self.api.update_service(
                service_id,
                version=int(current["Version"]["Index"]),
                **_create_arguments(document),
            )
        updated_at = time.monotonic()
        deadline = updated_at + self._timeout(target)
        while True:
            service, tasks = self._inspect(service_id, name=name)
            status = service.get("UpdateStatus") or {}
            state = str(status.get("State") or "")
            started = status.get("StartedAt")
            if rolls and started != before and state in ROLLED_BACK:
                self._wait_rolled_back(service_id, name=name, deadline=deadline)
                raise RolloutFailedError(
                    f"Swarm rolled the update of {name} back: "
                    f"{status.get('Message') or state}{task_errors(tasks)}"
                )
            settled = (
                not rolls
                or (started != before and state == "completed")
                # every replica runs a task of the new spec: what is left is Swarm's monitor
                # window, which it watches itself (a rollback then wakes the loop by its event)
                or (started != before and fresh_count(tasks, since=service) >= target.spec.replicas)
                # a new hash with the same task spec (a label of gitberth's only): no rollout
                or (started == before and time.monotonic() - updated_at > _NO_ROLLOUT_SECONDS)
            )
            if settled and running_count(tasks) >= target.spec.replicas:
                return observed_from_service(service, tasks, nodes=self._node_names)
            if time.monotonic() > deadline:
                raise RolloutFailedError(
                    f"the update of {name} did not finish in time (update state "
                    f"{state or 'none'}, {running_count(tasks)}/{target.spec.replicas} tasks "
                    f"running){task_errors(tasks)}"
                )
            time.sleep(_POLL_SECONDS)

    def _wait_tasks_gone(self, service_id: str, *, name: str) -> None:
        """Wait (at most the grace period and a little) for a removed service's task
        containers on this node to go, so the same pass can release its network (on other
        nodes they go on their own; a network still in use is released by a later pass)."""
        deadline = time.monotonic() + self.grace_seconds + 10
        label = f"com.docker.swarm.service.id={service_id}"
        while time.monotonic() < deadline:
            with _engine_errors(f"waiting for the tasks of {name} to stop"):
                if not self.api.containers(all=True, filters={"label": label}):
                    return
            time.sleep(_POLL_SECONDS)

    def _wait_rolled_back(self, service_id: str, *, name: str, deadline: float) -> None:
        """Wait for Swarm to finish its rollback, so the next pass sees the old spec back."""
        while time.monotonic() < deadline:
            service, _ = self._inspect(service_id, name=name)
            if (service.get("UpdateStatus") or {}).get("State") != "rollback_started":
                return
            time.sleep(_POLL_SECONDS)

    def _wait_created(self, service_id: str, target: ResolvedService) -> ObservedContainer:
        """Wait for every task of a new service to run (healthy, when it has a check: Swarm
        starts a task only once its check passes); many creates wait on one task poller."""
        name = target.spec.container_base
        replicas = target.spec.replicas

        def decided(tasks: list[dict[str, Any]]) -> bool:
            failed = sum(1 for t in tasks if task_state(t) in FAILED_TASK_STATES)
            return running_count(tasks) >= replicas or failed >= _FAILURES_BEFORE_GIVING_UP

        # Swarm keeps starting a new service's tasks however long the node takes (many new
        # services and networks at once take a while); failed tasks end the wait early.
        timeout = self._timeout(target) * _CREATE_PATIENCE
        tasks = self._tasks.wait(service_id, until=decided, timeout=timeout)
        self._learn_nodes(tasks)
        if running_count(tasks) < replicas:
            raise RolloutFailedError(
                f"{name}: {running_count(tasks)}/{replicas} tasks running{task_errors(tasks)}"
            )
        with _engine_errors(f"watching service {name}"):
            service = self.api.inspect_service(service_id)
        return observed_from_service(service, tasks, nodes=self._node_names)

    def _inspect(self, service_id: str, *, name: str) -> tuple[dict[str, Any], list[Any]]:
        with _engine_errors(f"watching service {name}"):
            service = self.api.inspect_service(service_id)
            tasks = self.api.tasks(filters={"service": service_id})
        self._learn_nodes(tasks)
        return service, tasks

    def _timeout(self, target: ResolvedService) -> float:
        """Long enough for Swarm to start, check and watch every task one after the other."""
        options = target.spec.options
        check = options.healthcheck.worst_case_seconds if options.healthcheck else 0.0
        per_task = check + monitor_ns(options) / 1e9
        return self.rollout_timeout + max(target.spec.replicas, 1) * per_task

    # -- networks, volumes, secrets, pulls --------------------------------------------------

    def pull_images(
        self, requests: Sequence[PullRequest], *, workers: int
    ) -> dict[tuple[str, str, str | None], str | None]:
        """Swarm nodes pull for themselves when they start a task; nothing to do here."""
        return {request.key: None for request in requests}

    def release_networks(self, *, keep: Collection[str], changed: bool) -> None:
        """After a pass that changed something: remove this source's overlay networks no
        service uses, and the secret versions no service references any more."""
        if not changed:
            return
        self.release_secrets()
        self.resources.release_networks(keep=keep, changed=changed)

    def release_secrets(self) -> None:
        """Remove this source's Swarm secret versions that no service's spec mounts."""
        with _engine_errors("listing Swarm secrets"):
            secrets = self.api.secrets(
                filters={"label": [f"{LABEL_MANAGED}=true", f"{LABEL_SOURCE}={self.source}"]}
            )
            if not secrets:
                return
            services = self.api.services()
        used = {
            str(reference.get("SecretID"))
            for service in services
            for reference in (
                ((service.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
            ).get("Secrets")
            or []
        }
        for secret in secrets:
            labels = (secret.get("Spec") or {}).get("Labels") or {}
            if str(secret["ID"]) in used or LABEL_SECRET not in labels:
                continue
            try:
                self.api.remove_secret(secret["ID"])
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                continue  # referenced meanwhile (a pass of another thread): kept
            except (requests.ConnectionError, OSError) as exc:
                raise RuntimeUnavailableError(f"Swarm manager unreachable: {exc}") from exc


def _connect() -> docker.DockerClient:
    try:
        return docker.from_env()
    except docker.errors.DockerException as exc:
        raise RuntimeUnavailableError(f"Swarm manager unreachable: {exc}") from exc


def _create_arguments(document: dict[str, Any]) -> dict[str, Any]:
    """A service spec document as the SDK's ``create_service``/``update_service`` take it."""
    return {
        "task_template": document["TaskTemplate"],
        "name": document["Name"],
        "labels": document["Labels"],
        "mode": document["Mode"],
        "update_config": document["UpdateConfig"],
        "rollback_config": document["RollbackConfig"],
        "endpoint_spec": document["EndpointSpec"],
    }


@contextlib.contextmanager
def _engine_errors(doing: str) -> Iterator[None]:
    try:
        yield
    except docker.errors.APIError as exc:
        if exc.status_code == 409:
            raise ActionFailedError(
                f"{doing}: the name is taken by a service or secret this source does not "
                f"manage ({exc.explanation or exc})"
            ) from exc
        raise ActionFailedError(f"{doing}: {exc.explanation or exc}") from exc
    except (requests.ConnectionError, docker.errors.DockerException, OSError) as exc:
        raise RuntimeUnavailableError(f"Swarm manager unreachable while {doing}: {exc}") from exc
