"""Assemble what ``gitberth serve`` runs: the API over the state dir, deploys to the repo, and
the reconcile loop with its runtime.

Kept apart from the CLI so tests and ``serve`` build the same server. Each Git source gets its
own runtime (stamping its source id), loop, status rows and deployer (:mod:`gitberth.source_set`);
the routes see them all through one :class:`~gitberth.source_set.SourceSet`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from pydantic import ValidationError

from gitberth.api import dashboard, routes_deploy, routes_hooks, routes_status
from gitberth.api.app import create_app
from gitberth.api.context import ServerContext
from gitberth.api.context import ServerSettings as ServerSettings  # for `gitberth serve`
from gitberth.api.context import open_context as open_context  # for `gitberth serve`
from gitberth.app_claims import AppClaims
from gitberth.core.container_options import PublishPolicy
from gitberth.core.errors import ConfigError, RuntimeUnavailableError
from gitberth.defaults import (
    DEFAULT_APPS_DIR,
    DEFAULT_BRANCH,
    DEFAULT_GRACE_SECONDS,
    DEFAULT_INTERVAL,
    DEFAULT_PUBLISH_ADDRESS,
    DEFAULT_ROLLOUT_TIMEOUT,
    DEFAULT_SECRETS_ROOT,
    DEFAULT_WORKERS,
)
from gitberth.deploy import Deployer
from gitberth.host_paths import bind_policy
from gitberth.loop import Loop, LoopSettings
from gitberth.metrics import LoopMetrics, ServerMetrics
from gitberth.operations import Operations, OperationsSettings
from gitberth.operations import install as install_operations
from gitberth.runtime.base import Runtime
from gitberth.runtime.choice import RuntimeKind
from gitberth.runtime.secret_files import SecretFilesRoot
from gitberth.runtime.select import build_runtime
from gitberth.serve_config import DEFAULT_SOURCE_NAME, SourceConfig, webhook_secret
from gitberth.source_set import DeployRouter, Source, SourceSet
from gitberth.spec_ledger import SpecLedger
from gitberth.status import StatusStore

logger = logging.getLogger("gitberth.server")


@dataclass(frozen=True)
class ServeSettings:
    """How ``serve`` reconciles: its sources (``--repo`` is one source named ``default``) and
    the settings every source's loop shares."""

    repo: str | None
    branch: str = DEFAULT_BRANCH
    apps_dir: str = DEFAULT_APPS_DIR
    sources: tuple[SourceConfig, ...] = ()
    """The sources of ``--config`` or ``--source``; when set, *repo*, *branch* and *apps_dir*
    are unused."""
    default_source: str | None = None
    """Where ``POST /deploy`` commits an app no source declares (``default: true``)."""
    secrets_dir: Path = DEFAULT_SECRETS_ROOT
    grace_seconds: int = DEFAULT_GRACE_SECONDS
    interval: float = DEFAULT_INTERVAL
    rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT
    workers: int = DEFAULT_WORKERS
    webhook_secret: str | None = None
    """The webhook secret of every source that names none of its own (``webhookSecretEnv``)."""
    operations: OperationsSettings = field(default_factory=OperationsSettings)
    """History, rollback, logs, notifications and commit status (see gitberth.operations)."""
    repo_credentials: str | None = None
    """The shared gitberth secret with the remote's credentials (``--repo-credentials``)."""
    publish_address: str = DEFAULT_PUBLISH_ADDRESS
    reserved_host_ports: frozenset[int] = frozenset()
    """Host ports no manifest may take: the API's own listen port."""

    @property
    def publish(self) -> PublishPolicy:
        return PublishPolicy(
            default_address=self.publish_address, reserved_host_ports=self.reserved_host_ports
        )

    allow_bind_under: tuple[Path, ...] = ()
    """Host directories manifests may bind-mount from (``--allow-bind-under``)."""
    runtime: RuntimeKind = RuntimeKind.AUTO
    """``--runtime``: docker, swarm, or auto (swarm when the engine is a swarm manager)."""

    def source_configs(self) -> tuple[SourceConfig, ...]:
        """The sources to follow; ``--repo`` alone is one source named ``default``."""
        if self.sources:
            return self.sources
        if self.repo is None:
            return ()
        try:
            return (
                SourceConfig(
                    name=DEFAULT_SOURCE_NAME,
                    url=self.repo,
                    branch=self.branch,
                    apps_dir=self.apps_dir,
                    credentials=self.repo_credentials,
                ),
            )
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
            raise ConfigError(f"--repo, --branch or --apps-dir is empty ({fields})") from exc


def build_app(context: ServerContext, settings: ServeSettings) -> FastAPI:
    """The API app; with sources, one reconcile loop per source (which a secret write also
    triggers, so exactly its consumers are replaced) and ``POST /deploy`` into them."""
    configs = settings.source_configs()
    if not configs:
        app = create_app(context, routers=[routes_deploy.router, dashboard.router])
        app.state.deployer = None
        return app
    secret_files = SecretFilesRoot(settings.secrets_dir)
    secret_files.check()
    # One rule for GET /apps and gitberth status: the sources this serve runs, no others.
    StatusStore.forget_other_sources(context.db, kept=[c.source_id for c in configs])
    metrics = ServerMetrics()
    claims = AppClaims()
    several = len(configs) > 1
    sources = [
        _build_source(
            context,
            settings,
            config,
            secret_files=secret_files,
            metrics=metrics,
            claims=claims if several else None,
        )
        for config in configs
    ]
    source_set = SourceSet(
        sources,
        default=settings.default_source,
        claims=claims,
        metrics=metrics,
    )
    operations, operation_routers = install_operations(
        context, settings.operations, sources=source_set
    )
    app = create_app(
        context,
        routers=[
            routes_deploy.router,
            routes_status.router(source_set),
            routes_hooks.router(source_set),
            *operation_routers,
            dashboard.router,
        ],
        on_startup=[_start(source_set)],
        on_shutdown=[_stop(source_set), _stop_operations(operations)],
    )
    app.state.sources = source_set
    app.state.loop = sources[0].loop
    app.state.deployer = DeployRouter(source_set)
    return app


def _build_source(
    context: ServerContext,
    settings: ServeSettings,
    config: SourceConfig,
    *,
    secret_files: SecretFilesRoot,
    metrics: ServerMetrics,
    claims: AppClaims | None,
) -> Source:
    """One source: its runtime (stamping its source id), loop and deployer."""
    runtime = build_runtime(
        source=config.source_id,
        grace_seconds=settings.grace_seconds,
        secret_files=secret_files,
        rollout_timeout=settings.rollout_timeout,
        publish_address=settings.publish_address,
        bind_policy=bind_policy(settings.allow_bind_under),
        kind=settings.runtime,
    )
    try:
        runtime.sweep()  # what a crash left behind, e.g. secret files mounted by no container
    except RuntimeUnavailableError as exc:
        logger.warning("could not sweep what a crash left behind yet: %s", exc)
    loop = build_loop(context, settings, config, runtime=runtime, metrics=metrics, claims=claims)
    source = loop.source
    if source.remote is None:
        source.repos.read(lambda repo: repo.git_dir)  # not a repository: refuse to start
    deployer = Deployer(
        repos=source.repos,
        branch=config.branch,
        apps_dir=config.apps_dir,
        runtime=runtime,
        secrets=context.store,
        known_specs=loop.known_specs,
        lock=loop.lock,
        remote=source.remote,
        on_committed=loop.adopt_revision,
        observers=loop.observers,
        publish=settings.publish,
    )
    secret = webhook_secret(config) if config.webhook_secret_env else settings.webhook_secret
    return Source(config=config, loop=loop, deployer=deployer, webhook_secret=secret)


def build_loop(
    context: ServerContext,
    settings: ServeSettings,
    config: SourceConfig,
    *,
    runtime: Runtime,
    metrics: ServerMetrics,
    claims: AppClaims | None,
) -> Loop:
    """The reconcile loop over one source, sharing the store, ledger and engine with deploys;
    its status rows and metrics are its own source's."""
    loop = Loop(
        settings=LoopSettings(
            repo=config.url,
            state_dir=context.db.state.path,
            branch=config.branch,
            apps_dir=config.apps_dir,
            interval=settings.interval,
            workers=settings.workers,
            publish=settings.publish,
            credentials_secret=config.credentials,
            secrets_dir=settings.secrets_dir,
        ),
        runtime=runtime,
        status=StatusStore(context.db, source_id=config.source_id, source_name=config.name),
        metrics=LoopMetrics(metrics, source=config.name),
        secrets=context.store,
        known_specs=SpecLedger(context.db),
        hold_clashes=claims.holder(config.name) if claims is not None else None,
    )
    if claims is not None:
        claims.register(config.name, lambda reason: loop.trigger(reason))
    context.on_secrets_changed.append(loop.secrets_changed)
    return loop


def _start(sources: SourceSet) -> Callable[[ServerContext], Awaitable[None]]:
    async def start(context: ServerContext) -> None:
        for source in sources:
            source.loop.start()

    return start


def _stop_operations(operations: Operations) -> Callable[[ServerContext], Awaitable[None]]:
    async def stop(context: ServerContext) -> None:
        await asyncio.to_thread(operations.stop)

    return stop


def _stop(sources: SourceSet) -> Callable[[ServerContext], Awaitable[None]]:
    async def stop(context: ServerContext) -> None:
        # SIGTERM reaches uvicorn, which runs this: the action in flight finishes, no other starts.
        for source in sources:
            await asyncio.to_thread(source.loop.stop)

    return stop
