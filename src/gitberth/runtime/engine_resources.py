"""Networks, volumes and image pulls on one Docker engine: what containers need around them.

Containers come and go with every deploy; these outlive them. So each is created on demand,
just before the first container that needs it (a network before the container joins it, a
volume before it is mounted, an image before it runs), and remembered, so a steady state costs
no engine call at all. Networks are removed after their last container; volumes never are,
except by ``gitberth volumes prune`` (see :mod:`gitberth.volumes`). Everything gitberth creates
carries :func:`gitberth.runtime.base.resource_labels`, and nothing without those labels is
adopted or removed.

Registry credentials reach only the engine's pull call (``auth_config``); error messages are
the registry's reason with any credential value scrubbed out.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import docker
import docker.auth
import docker.errors
import requests

from gitberth.core.errors import ActionFailedError, ImagePullFailedError, RuntimeUnavailableError
from gitberth.core.resolved import PullCredentials
from gitberth.core.wiring import app_network_name
from gitberth.runtime.base import (
    LABEL_APP,
    LABEL_MANAGED,
    LABEL_NETWORK,
    LABEL_SOURCE,
    LABEL_VOLUME,
    PullRequest,
    resource_labels,
)

PullKey = tuple[str, str, str | None]


def app_network_labels(app: str, *, source: str) -> dict[str, str]:
    return resource_labels(source=source, app=app, **{LABEL_MANAGED: "true", LABEL_NETWORK: "app"})


def shared_network_labels(*, source: str) -> dict[str, str]:
    """A shared network records the source that created it, but any gitberth source may join
    it (sharing across teams is what it is for); only its creator removes it."""
    return resource_labels(source=source, **{LABEL_MANAGED: "true", LABEL_NETWORK: "shared"})


def volume_labels(app: str, volume: str, *, source: str) -> dict[str, str]:
    return resource_labels(source=source, app=app, **{LABEL_MANAGED: "true", LABEL_VOLUME: volume})


def foreign_source(labels: dict[str, str], *, source: str) -> str | None:
    """The other gitberth source that owns a resource, or None when it is this one's (or was
    made before resources carried a source)."""
    owner = labels.get(LABEL_SOURCE)
    return owner if owner is not None and owner != source else None


class EngineResources:
    """Creates and removes gitberth's networks and volumes, and pulls images, on one engine."""

    def __init__(
        self,
        client: Callable[[], docker.DockerClient],
        *,
        source: str,
        network_driver: str = "bridge",
    ) -> None:
        """*network_driver* is ``bridge`` on one engine and ``overlay`` on a Swarm manager
        (attachable, so a task and a plain container can both join)."""
        self._client = client
        self.source = source
        self.network_driver = network_driver
        self._lock = threading.Lock()
        self._network_locks: dict[str, threading.Lock] = {}
        self._networks: set[str] = set()
        self._volumes: set[str] = set()

    @property
    def api(self) -> Any:
        return self._client().api

    # -- networks ---------------------------------------------------------------------------

    def ensure_networks(self, *, app: str, shared: Sequence[str]) -> None:
        """The app's own network and every shared one it names exist (created if missing)."""
        self._ensure_network(
            app_network_name(app), labels=app_network_labels(app, source=self.source), own=True
        )
        for name in shared:
            self._ensure_network(name, labels=shared_network_labels(source=self.source), own=False)

    def forget_network(self, name: str) -> None:
        """Drop *name* from the cache (it vanished behind gitberth's back)."""
        with self._lock:
            self._networks.discard(name)

    def _ensure_network(self, name: str, *, labels: dict[str, str], own: bool) -> None:
        """Create *name* unless it exists; an existing one must be gitberth's, and an app's
        own network (*own*) must be this source's.

        Each name has its own lock: apps applied in parallel create their networks in
        parallel (one lock for all made every new app wait for every other app's network),
        while two containers of one app still never race to create the same network.
        """
        with self._lock:
            if name in self._networks:
                return
            name_lock = self._network_locks.setdefault(name, threading.Lock())
        with name_lock:
            with self._lock:
                if name in self._networks:
                    return
            with _engine(f"preparing network {name}"):
                if not self._create_network(name, labels=labels):
                    self._check_existing_network(name, own=own)
            with self._lock:
                self._networks.add(name)

    def _create_network(self, name: str, *, labels: dict[str, str]) -> bool:
        """Create *name*; False when a network of that name exists already.

        The engine checks the name itself (``CheckDuplicate``): asking it first by name costs
        one more call per new app, and that listing grows with every network on the engine.
        """
        extra = {"attachable": True} if self.network_driver == "overlay" else {}
        try:
            self.api.create_network(
                name, driver=self.network_driver, labels=labels, check_duplicate=True, **extra
            )
        except docker.errors.APIError as exc:
            if exc.status_code == 409:
                return False
            raise
        return True

    def _check_existing_network(self, name: str, *, own: bool) -> None:
        """An existing network of that name must be gitberth's, and an app's own network
        (*own*) this source's."""
        existing = [n for n in self.api.networks(names=[name]) if n.get("Name") == name]
        if not existing:
            return
        found = existing[0].get("Labels") or {}
        if found.get(LABEL_MANAGED) != "true":
            raise ActionFailedError(
                f"network {name} exists and was not created by gitberth; "
                "rename the network in the manifest or remove that one"
            )
        other = foreign_source(found, source=self.source)
        if own and other is not None:
            raise ActionFailedError(
                f"network {name} belongs to another gitberth source ({other}); "
                "two sources cannot deploy an app of the same name on one engine"
            )

    def release_networks(self, *, keep: Collection[str], changed: bool) -> None:
        if not changed:
            return
        with _engine("listing networks"):
            rows = self.api.networks(
                filters={"label": [f"{LABEL_MANAGED}=true", f"{LABEL_SOURCE}={self.source}"]}
            )
        for row in rows:
            name = str(row.get("Name"))
            if name in keep:
                continue
            try:
                self.api.remove_network(row["Id"])
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                continue  # still has containers (a held app's, say): the engine keeps it
            except (requests.ConnectionError, OSError) as exc:
                raise RuntimeUnavailableError(f"Docker engine unreachable: {exc}") from exc
            self.forget_network(name)

    # -- volumes ----------------------------------------------------------------------------

    def ensure_volume(self, engine_name: str, *, app: str, volume: str) -> None:
        """The app's volume exists, labelled as gitberth's (created empty the first time)."""
        with self._lock:
            if engine_name in self._volumes:
                return
            with _engine(f"preparing volume {engine_name}"):
                try:
                    found = self.api.inspect_volume(engine_name)
                except docker.errors.NotFound:
                    self.api.create_volume(
                        engine_name, labels=volume_labels(app, volume, source=self.source)
                    )
                else:
                    labels = found.get("Labels") or {}
                    if (
                        labels.get(LABEL_MANAGED) != "true"
                        or labels.get(LABEL_APP) != app
                        or foreign_source(labels, source=self.source) is not None
                    ):
                        raise ActionFailedError(
                            f"volume {engine_name} exists and is not app {app}'s gitberth "
                            "volume of this source; gitberth never adopts data it did not create"
                        )
            self._volumes.add(engine_name)

    def forget_volume(self, engine_name: str) -> None:
        with self._lock:
            self._volumes.discard(engine_name)

    # -- images -----------------------------------------------------------------------------

    def pull_images(
        self, requests_: Sequence[PullRequest], *, workers: int
    ) -> dict[PullKey, str | None]:
        unique = {request.key: request for request in requests_}
        if not unique:
            return {}
        size = max(1, min(len(unique), workers))
        with ThreadPoolExecutor(max_workers=size, thread_name_prefix="pull") as pool:
            outcomes = pool.map(self._pull_one, unique.values())
            return dict(zip(unique, outcomes, strict=True))

    def _pull_one(self, request: PullRequest) -> str | None:
        try:
            self.ensure_image(request)
        except ImagePullFailedError as exc:
            return str(exc)
        return None

    def ensure_image(self, request: PullRequest) -> None:
        """Pull *request*'s image when its policy says so; raise ImagePullFailedError."""
        if request.policy != "always":
            with _engine(f"looking for image {request.image}"):
                try:
                    self.api.inspect_image(request.image)
                    return
                except docker.errors.ImageNotFound:
                    pass
        auth = _auth_config(request.image, request.credentials)
        try:
            for line in self.api.pull(request.image, auth_config=auth, stream=True, decode=True):
                error = line.get("error") if isinstance(line, dict) else None
                if error:
                    raise ImagePullFailedError(
                        f"pull {request.image}: {_scrub(str(error), request.credentials)}"
                    )
        except docker.errors.APIError as exc:
            reason = _scrub(str(exc.explanation or exc), request.credentials)
            raise ImagePullFailedError(f"pull {request.image}: {reason}") from None
        except (requests.ConnectionError, OSError) as exc:
            raise RuntimeUnavailableError(
                f"Docker engine unreachable while pulling: {exc}"
            ) from exc


def _auth_config(image: str, credentials: PullCredentials | None) -> dict[str, str] | None:
    """The engine's ``auth_config`` for a pull: the secret's REGISTRY, else the image's host."""
    if credentials is None:
        return None
    registry = credentials.registry or docker.auth.resolve_repository_name(image)[0]
    return {
        "username": credentials.username.get_secret_value(),
        "password": credentials.password.get_secret_value(),
        "serveraddress": registry,
    }


def _scrub(message: str, credentials: PullCredentials | None) -> str:
    """A registry's reason with every credential value replaced, should one ever echo it."""
    if credentials is not None:
        for secret in (credentials.password, credentials.username):
            value = secret.get_secret_value()
            if value:
                message = message.replace(value, "***")
    return message


@contextlib.contextmanager
def _engine(doing: str) -> Iterator[None]:
    try:
        yield
    except ActionFailedError:
        raise
    except docker.errors.APIError as exc:
        raise ActionFailedError(f"{doing}: {exc.explanation or exc}") from exc
    except (requests.ConnectionError, docker.errors.DockerException, OSError) as exc:
        raise RuntimeUnavailableError(f"Docker engine unreachable while {doing}: {exc}") from exc
