"""The Swarm :class:`~gitberth.container_logs.LogReader`: ``docker service logs`` of an app's
services, gathered by the manager from every node that ran a task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import docker

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
        """The manager's logs of every task of the service (a stream of chunks either way)."""
        options = {"follow": True} if follow else {}
        return api.service_logs(
            target.id, stdout=True, stderr=True, timestamps=True, tail=tail, since=since, **options
        )
