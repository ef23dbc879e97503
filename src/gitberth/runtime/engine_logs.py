"""The part of a :class:`~gitberth.container_logs.LogReader` both engines share.

Docker reads each container's logs, Swarm each service's (the manager gathers every task's);
which targets an app has and which API call reads one are the engine's (:meth:`targets`,
:meth:`_logs`). Reading the last lines of every target and merging them in time order, and
following every target on a connection of its own that closes with the follower, are the same
for both and written here once.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

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

ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException, OSError)
"""What a call to an engine that is down or gone raises."""


class EngineLogs(ABC):
    """Reads an app's logs through one engine connection, opened on first use."""

    unreachable: str
    """How an error names the engine: ``"<unreachable>: <cause>"``."""

    def __init__(self, *, connect: Callable[[], docker.DockerClient]) -> None:
        self._connect = connect
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()

    @property
    def api(self) -> Any:
        """The low-level API of the shared connection."""
        with self._lock:
            if self._client is None:
                self._client = self._open()
            return self._client.api

    @abstractmethod
    def targets(self, app: str, *, service: str | None = None) -> list[LogTarget]:
        """The app's containers or services (of *service* only, when given), sorted by name."""

    @abstractmethod
    def _logs(
        self, api: Any, target: LogTarget, *, tail: int, since: int | None, follow: bool
    ) -> bytes | Iterable[bytes]:
        """One target's timestamped stdout and stderr: all of it, or a stream when *follow*."""

    def read(
        self, app: str, *, service: str | None = None, tail: int = 100, since: float | None = None
    ) -> list[LogLine]:
        """The last *tail* lines of each target (since *since*, POSIX seconds), merged in
        time order."""
        lines: list[LogLine] = []
        for target in self.targets(app, service=service):
            try:
                chunks = self._logs(
                    self.api, target, tail=tail, since=int(since) if since else None, follow=False
                )
                raw = chunks if isinstance(chunks, bytes) else b"".join(chunks)
            except docker.errors.NotFound:
                continue  # removed between the list and this call
            except ENGINE_ERRORS as exc:
                self._unavailable(exc)
            for text in decode(raw).splitlines():
                stamp, line = split_timestamp(text)
                lines.append(LogLine(target.name, target.service, stamp, line[:MAX_LINE_CHARS]))
        return sorted(lines, key=lambda entry: entry.time)

    def follow(
        self, app: str, *, service: str | None = None, tail: int = 10, since: float | None = None
    ) -> LogFollower:
        """Start following every target of the app; read lines from the returned follower."""
        follower = LogFollower()
        client = self._open()  # a connection per follow, closed with it
        follower.on_close(client.close)
        for target in self.targets(app, service=service):
            try:
                stream = self._logs(
                    client.api, target, tail=tail, since=int(since) if since else None, follow=True
                )
            except docker.errors.NotFound:
                continue
            except ENGINE_ERRORS as exc:
                follower.close()
                self._unavailable(exc)
            follower.add(target, stream)
        return follower

    def _open(self) -> docker.DockerClient:
        try:
            return self._connect()
        except docker.errors.DockerException as exc:
            self._unavailable(exc)

    def _unavailable(self, exc: Exception) -> NoReturn:
        raise RuntimeUnavailableError(f"{self.unreachable}: {exc}") from exc
