"""The Swarm :class:`~gitberth.container_logs.LogReader`: ``docker service logs`` of an app's
services, gathered by the manager from every node that ran a task."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
import requests

from gitberth.container_logs import (
    MAX_LINE_CHARS,
    LogFollower,
    LogLine,
    LogTarget,
    decode,
    split_timestamp,
)
from gitberth.core.errors import RuntimeUnavailableError
from gitberth.runtime.base import LABEL_APP, LABEL_SERVICE, LABEL_SOURCE


class SwarmLogs:
    """Reads the logs of an app's services (every task of each) through one manager."""

    def __init__(self, *, connect: Callable[[], docker.DockerClient], source: str) -> None:
        self.source = source
        self._connect = connect
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def api(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client.api

    def targets(self, app: str, *, service: str | None = None) -> list[LogTarget]:
        labels = [f"{LABEL_APP}={app}", f"{LABEL_SOURCE}={self.source}"]
        if service:
            labels.append(f"{LABEL_SERVICE}={service}")
        try:
            rows = self.api.services(filters={"label": labels})
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailableError(f"Swarm manager unreachable: {exc}") from exc
        found = [
            LogTarget(
                id=str(row["ID"]),
                name=str((row.get("Spec") or {}).get("Name") or row["ID"]),
                service=str(((row.get("Spec") or {}).get("Labels") or {}).get(LABEL_SERVICE, "")),
            )
            for row in rows
        ]
        return sorted(found, key=lambda t: t.name)

    def _logs(self, api: Any, target: LogTarget, **options: Any) -> Any:
        return api.service_logs(target.id, stdout=True, stderr=True, timestamps=True, **options)

    def read(
        self, app: str, *, service: str | None = None, tail: int = 100, since: float | None = None
    ) -> list[LogLine]:
        """The last *tail* lines of each service's tasks, merged in time order."""
        lines: list[LogLine] = []
        for target in self.targets(app, service=service):
            try:
                chunks = self._logs(
                    self.api, target, tail=tail, since=int(since) if since else None
                )
                raw = b"".join(chunks) if not isinstance(chunks, bytes) else chunks
            except docker.errors.NotFound:
                continue
            except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
                raise RuntimeUnavailableError(f"Swarm manager unreachable: {exc}") from exc
            for text in decode(raw).splitlines():
                stamp, line = split_timestamp(text)
                lines.append(LogLine(target.name, target.service, stamp, line[:MAX_LINE_CHARS]))
        return sorted(lines, key=lambda entry: entry.time)

    def follow(
        self, app: str, *, service: str | None = None, tail: int = 10, since: float | None = None
    ) -> LogFollower:
        """Follow every service of the app; read lines from the returned follower."""
        follower = LogFollower()
        try:
            client = self._connect()  # a connection per follow, closed with it
        except docker.errors.DockerException as exc:
            raise RuntimeUnavailableError(f"Swarm manager unreachable: {exc}") from exc
        follower.on_close(client.close)
        for target in self.targets(app, service=service):
            try:
                stream = self._logs(
                    client.api, target, tail=tail, since=int(since) if since else None, follow=True
                )
            except docker.errors.NotFound:
                continue
            except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
                follower.close()
                raise RuntimeUnavailableError(f"Swarm manager unreachable: {exc}") from exc
            follower.add(target, stream)
        return follower
