"""The Docker :class:`~gitberth.container_logs.LogReader`: the engine's logs API (``docker logs``)
over every container labelled with the app and this source."""

from __future__ import annotations

from typing import Any

import docker

from gitberth.container_logs import LogTarget
from gitberth.runtime.base import LABEL_APP, LABEL_SERVICE, LABEL_SOURCE
from gitberth.runtime.engine_logs import ENGINE_ERRORS, EngineLogs


class DockerLogs(EngineLogs):
    """Reads the logs of an app's containers from one engine."""

    unreachable = "Docker engine unreachable"

    def __init__(self, *, source: str | None = None) -> None:
        """*source* (the ``gitberth.source`` label of this server's containers) keeps another
        gitberth's app of the same name on the same engine out of these logs."""
        super().__init__(connect=docker.from_env)
        self.source = source

    def targets(self, app: str, *, service: str | None = None) -> list[LogTarget]:
        labels = [f"{LABEL_APP}={app}"] + ([f"{LABEL_SERVICE}={service}"] if service else [])
        if self.source:
            labels.append(f"{LABEL_SOURCE}={self.source}")
        try:
            rows = self.api.containers(all=True, filters={"label": labels})
        except ENGINE_ERRORS as exc:
            self._unavailable(exc)
        found = [
            LogTarget(
                id=str(row["Id"]),
                name=(row.get("Names") or ["/" + str(row["Id"])[:12]])[0].lstrip("/"),
                service=str((row.get("Labels") or {}).get(LABEL_SERVICE, "")),
            )
            for row in rows
        ]
        return sorted(found, key=lambda t: t.name)

    def _logs(
        self, api: Any, target: LogTarget, *, tail: int, since: int | None, follow: bool
    ) -> Any:
        options = {"stream": True, "follow": True} if follow else {}
        return api.logs(
            target.id, stdout=True, stderr=True, timestamps=True, tail=tail, since=since, **options
        )
