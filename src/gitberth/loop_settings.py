"""How the loop follows its source; ``serve`` fills this from its options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gitberth.core.backoff import Backoff
from gitberth.core.container_options import PublishPolicy
from gitberth.defaults import (
    DEFAULT_APPS_DIR,
    DEFAULT_BRANCH,
    DEFAULT_INTERVAL,
    DEFAULT_SECRETS_ROOT,
    DEFAULT_WORKERS,
)


@dataclass(frozen=True)
class LoopSettings:
    """How the loop follows its source (see :class:`gitberth.loop.Loop`)."""

    repo: str
    state_dir: Path
    branch: str = DEFAULT_BRANCH
    apps_dir: str = DEFAULT_APPS_DIR
    interval: float = DEFAULT_INTERVAL
    """Seconds between fetches of a remote, and between full resyncs of a local repo."""
    workers: int = DEFAULT_WORKERS
    retry_base: float = 0.5
    retry_max: float = 30.0
    """Backoff of a failed pass (engine unreachable, unreadable source), and of reconnecting
    to the engine's event stream."""
    app_backoff_base: float = 10.0
    app_backoff_max: float = 600.0
    """Backoff of one app whose actions failed, while its desired spec stays the same."""
    watch: bool = True
    docker_events: bool = True
    """Follow the runtime's events (a crash is healed at once rather than at the resync)."""
    publish: PublishPolicy = field(default_factory=PublishPolicy)
    """The server's default publish address and the host ports it keeps for itself."""
    credentials_secret: str | None = None
    """The shared gitberth secret holding the remote's credentials (``--repo-credentials``)."""
    secrets_dir: Path = DEFAULT_SECRETS_ROOT
    """The RAM-backed directory where a Git command's credentials live while it runs."""

    @property
    def pass_backoff(self) -> Backoff:
        return Backoff(self.retry_base, self.retry_max)

    @property
    def app_backoff(self) -> Backoff:
        return Backoff(self.app_backoff_base, self.app_backoff_max)
