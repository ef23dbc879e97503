"""The Swarm :class:`~gitberth.container_logs.LogReader`: ``docker service logs`` of an app's
services, gathered by the manager from every node that ran a task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker
from docker.types.daemon import CancellableStream

from gitberth.container_logs import LogTarget
from gitberth.runtime.base import LABEL_APP, LABEL_SERVICE, LABEL_SOURCE
from gitberth.runtime.engine_logs import ENGINE_ERRORS, EngineLogs


class SwarmLogs(EngineLogs):
    """Reads the logs of an app's services (every task of each) through one manager."""

    unreachable = "Swarm manager unreachable"

    def __init__(self, *, connect: Callable[[], docker.DockerClient], source: str) -> None:
        super().__init__(connect=connect)
        self.source = source

    def targets(self, app: str, *, service: str | None = None) -> list[LogTarget]:
        labels = [f"{LABEL_APP}={app}", f"{LABEL_SOURCE}={self.source}"]
        if service:
            labels.append(f"{LABEL_SERVICE}={service}")
        try:
            rows = self.api.services(filters={"label": labels})
        except ENGINE_ERRORS as exc:
            self._unavailable(exc)
        found = [
            LogTarget(
                id=str(row["ID"]),
                name=str((row.get("Spec") or {}).get("Name") or row["ID"]),
                service=str(((row.get("Spec") or {}).get("Labels") or {}).get(LABEL_SERVICE, "")),
            )
            for row in rows
        ]
        return sorted(found, key=lambda t: t.name)

    def _logs(
        self, api: Any, target: LogTarget, *, tail: int, since: int | None, follow: bool
    ) -> Any:
        """The manager's logs of every task of the service (a stream of chunks either way).

        Followed, the SDK's ``service_logs`` is a bare generator that ``close()`` cannot
        interrupt from another thread, so a closed follower's reader would stay blocked until
        the service printed again. The same request is made here and wrapped the way the SDK
        wraps a container's followed logs (:class:`docker.types.daemon.CancellableStream`),
        whose ``close()`` shuts the socket. Task containers never get a TTY (see
        :mod:`gitberth.runtime.swarm_specs`), so the stream is always multiplexed.
        """
        options = {"stdout": True, "stderr": True, "timestamps": True, "tail": tail}
        if not follow:
            return api.service_logs(target.id, since=since, **options)
        params = {**options, "since": since, "follow": True, "details": False}
        response = api._get(api._url("/services/{0}/logs", target.id), params=params, stream=True)
        return CancellableStream(api._get_result_tty(True, response, False), response)
