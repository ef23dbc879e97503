"""The sources one ``serve`` follows, each with its loop, and where a request about an app goes.

Each source has its own loop (own source id, status rows, backoff and webhook), so a failing
source holds only its own apps. The routes see the sources through :class:`SourceSet`: status
lists every source's apps, each naming its source; a webhook wakes one source; ``POST /deploy``
and a rollback write to the source whose Git declares the app (:meth:`SourceSet.writer_for`):
the one whose last read revision has it, else the configured default source for a new app.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from gitberth.app_claims import AppClaims
from gitberth.container_logs import LogFollower, LogLine, LogReader, LogTarget
from gitberth.core.errors import AppNameClashError, DeployError, InvalidRequestError
from gitberth.core.models import AppManifest
from gitberth.core.sync_status import AppStanding, PassRecord, SourceStanding
from gitberth.deploy import Deployer, DeployOutcome
from gitberth.gitwrite import Author
from gitberth.loop import Loop
from gitberth.metrics import ServerMetrics
from gitberth.rollback import Rollbacker, RollbackOutcome, RollbackTarget
from gitberth.serve_config import SourceConfig


@dataclass
class Source:
    """One followed repository: its settings, loop, deployer and (once installed) rollbacker."""

    config: SourceConfig
    loop: Loop
    deployer: Deployer
    webhook_secret: str | None = None
    rollbacker: Rollbacker | DeployError | None = None

    @property
    def name(self) -> str:
        return self.config.name


class SourceSet:
    """Every source of a serve, by name, plus the app-name claims they share."""

    def __init__(
        self,
        sources: list[Source],
        *,
        default: str | None,
        claims: AppClaims,
        metrics: ServerMetrics,
    ) -> None:
        self._sources = {source.name: source for source in sources}
        self.default = default
        self.claims = claims
        self.metrics = metrics

    def __iter__(self) -> Iterator[Source]:
        return iter(self._sources.values())

    def __len__(self) -> int:
        return len(self._sources)

    def get(self, name: str) -> Source | None:
        return self._sources.get(name)

    @property
    def only(self) -> Source | None:
        """The source, when there is exactly one."""
        return next(iter(self._sources.values())) if len(self._sources) == 1 else None

    # -- status -----------------------------------------------------------------------------

    def apps(self) -> list[AppStanding]:
        """Every source's apps, by name then source (a clashing name is listed once per
        source that declares it)."""
        states = [state for source in self for state in source.loop.status.apps()]
        return sorted(states, key=lambda s: (s.name, s.source))

    def states_of(self, app: str) -> list[AppStanding]:
        found = (source.loop.status.app(app) for source in self)
        return [state for state in found if state is not None]

    def app(self, name: str) -> AppStanding | None:
        """The app's state in the first source that knows it (enough to tell an app exists)."""
        states = self.states_of(name)
        return states[0] if states else None

    def loops(self) -> list[SourceStanding]:
        return [source.loop.status.loop() for source in self]

    def passes(self, *, limit: int) -> list[PassRecord]:
        """The recent passes of every source (one shared table), newest first."""
        first = next(iter(self._sources.values()), None)
        return first.loop.status.passes(limit=limit) if first is not None else []

    # -- writes -----------------------------------------------------------------------------

    def owners(self, app: str) -> list[Source]:
        """The sources whose last read revision declares *app* (or, before a source was read,
        whose status knows it)."""
        named = self.claims.sources_of(app)
        if not named:
            named = [state.source for state in self.states_of(app)]
        return [self._sources[name] for name in dict.fromkeys(named) if name in self._sources]

    def writer_for(self, app: str) -> Source:
        """Where a deploy or rollback of *app* commits: the source that declares it, else the
        default source; an app two sources declare is refused (409) until one drops it."""
        owners = self.owners(app)
        if len(owners) > 1:
            names = ", ".join(o.name for o in owners)
            raise AppNameClashError(
                f"app {app} is declared by sources {names}; remove it from all but one"
            )
        if owners:
            return owners[0]
        fallback = self.get(self.default) if self.default else self.only
        if fallback is None:
            raise InvalidRequestError(
                f"app {app} is in no source yet and no source is the default; mark one source "
                "'default: true' in the serve config, or commit the app to a source's Git",
                field="name",
            )
        return fallback


class SourceLogs:
    """The :class:`~gitberth.container_logs.LogReader` of a serve: an app's output is read
    through the runtime of the source that declares it (its containers carry that source's
    label, and each source may drive its own engine)."""

    def __init__(self, sources: SourceSet) -> None:
        self._sources = sources

    def _reader(self, app: str) -> LogReader:
        owners = self._sources.owners(app)
        source = owners[0] if owners else (self._sources.only or next(iter(self._sources)))
        return source.loop.runtime.logs

    def targets(self, app: str, *, service: str | None = None) -> list[LogTarget]:
        return self._reader(app).targets(app, service=service)

    def read(
        self, app: str, *, service: str | None = None, tail: int = 100, since: float | None = None
    ) -> list[LogLine]:
        return self._reader(app).read(app, service=service, tail=tail, since=since)

    def follow(
        self, app: str, *, service: str | None = None, tail: int = 10, since: float | None = None
    ) -> LogFollower:
        return self._reader(app).follow(app, service=service, tail=tail, since=since)


class DeployRouter:
    """``POST /deploy`` across sources: validates and commits with the writing source's
    deployer, so the manifest lands in that source's apps directory."""

    def __init__(self, sources: SourceSet) -> None:
        self.sources = sources

    def validate(self, body: Any) -> AppManifest:
        name = body.get("name") if isinstance(body, Mapping) else None
        if isinstance(name, str):
            try:
                return self.sources.writer_for(name).deployer.validate(body)
            except (AppNameClashError, InvalidRequestError):
                pass  # report the manifest's own problems first; deploy() raises this again
        first = next(iter(self.sources))
        return first.deployer.validate(body)

    def deploy(self, manifest: AppManifest, *, author: Author) -> DeployOutcome:
        source = self.sources.writer_for(manifest.name)
        outcome = source.deployer.deploy(manifest, author=author)
        # The loop adopted the commit; a pass (no Git work) records the deploy in status.
        source.loop.trigger(f"deploy of {manifest.name}")
        return dataclasses.replace(outcome, source=source.name)


class RollbackRouter:
    """A rollback across sources: the source that declares the app rolls it back; an app
    removed from Git is rolled back by the source its history names."""

    def __init__(self, sources: SourceSet, *, history_source: Any = None) -> None:
        self.sources = sources
        self._history_source = history_source

    def _rollbacker(self, app: str) -> Rollbacker:
        owners = self.sources.owners(app)
        source = owners[0] if len(owners) == 1 else None
        if not owners and self._history_source is not None:
            source = self.sources.get(self._history_source(app) or "")
        if source is None:
            source = self.sources.writer_for(app)
        if isinstance(source.rollbacker, DeployError):
            raise source.rollbacker
        if source.rollbacker is None:
            raise DeployError(f"source {source.name} cannot roll back")
        return source.rollbacker

    def target(self, app: str, *, to: str) -> RollbackTarget:
        return self._rollbacker(app).target(app, to=to)

    def rollback(self, app: str, *, to: str, author: Author) -> RollbackOutcome:
        return self._rollbacker(app).rollback(app, to=to, author=author)
