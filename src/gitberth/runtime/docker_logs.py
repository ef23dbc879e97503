"""The Docker :class:`~gitberth.container_logs.LogReader`: the engine's logs API (``docker logs``)
over every container labelled with the app and this source."""

from __future__ import annotations

import threading

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


class DockerLogs:
    """Reads the logs of an app's containers from one engine."""

    def __init__(self, *, source: str | None = None) -> None:
        """*source* (the ``gitberth.source`` label of this server's containers) keeps another
        gitberth's app of the same name on the same engine out of these logs."""
        self.source = source
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = _connect()
            return self._client

    def targets(self, app: str, *, service: str | None = None) -> list[LogTarget]:
        labels = [f"{LABEL_APP}={app}"] + ([f"{LABEL_SERVICE}={service}"] if service else [])
        if self.source:
            labels.append(f"{LABEL_SOURCE}={self.source}")
        try:
            rows = self.client.api.containers(all=True, filters={"label": labels})
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailableError(f"Docker engine unreachable: {exc}") from exc
        found = [
            LogTarget(
                id=str(row["Id"]),
                name=(row.get("Names") or ["/" + str(row["Id"])[:12]])[0].lstrip("/"),
                service=str((row.get("Labels") or {}).get(LABEL_SERVICE, "")),
            )
            for row in rows
        ]
        return sorted(found, key=lambda t: t.name)

    def read(
        self, app: str, *, service: str | None = None, tail: int = 100, since: float | None = None
    ) -> list[LogLine]:
        """The last *tail* lines of each container (since *since*, POSIX seconds), merged in
        time order."""
        lines: list[LogLine] = []
        for target in self.targets(app, service=service):
            try:
                raw = self.client.api.logs(
                    target.id,
                    stdout=True,
                    stderr=True,
                    timestamps=True,
                    tail=tail,
                    since=int(since) if since else None,
                )
            except docker.errors.NotFound:
                continue  # removed between the list and this call
            except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
                raise RuntimeUnavailableError(f"Docker engine unreachable: {exc}") from exc
            for text in decode(raw).splitlines():
                stamp, line = split_timestamp(text)
                lines.append(LogLine(target.name, target.service, stamp, line[:MAX_LINE_CHARS]))
        return sorted(lines, key=lambda entry: entry.time)

    def follow(
        self, app: str, *, service: str | None = None, tail: int = 10, since: float | None = None
    ) -> LogFollower:
        """Start following every container of the app; read lines from the returned follower."""
        follower = LogFollower()
        client = _connect()  # a connection per follow, closed with it
        follower.on_close(client.close)
        for target in self.targets(app, service=service):
            try:
                stream = client.api.logs(
                    target.id,
                    stdout=True,
                    stderr=True,
                    timestamps=True,
                    tail=tail,
                    since=int(since) if since else None,
                    stream=True,
                    follow=True,
                )
            except docker.errors.NotFound:
                continue
            except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
                follower.close()
                raise RuntimeUnavailableError(f"Docker engine unreachable: {exc}") from exc
            follower.add(target, stream)
        return follower


def _connect() -> docker.DockerClient:
    try:
        return docker.from_env()
    except docker.errors.DockerException as exc:
        raise RuntimeUnavailableError(f"Docker engine unreachable: {exc}") from exc
