"""Assemble what ``gitberth serve`` runs: the API over the state dir, plus deploys to the repo.

Kept apart from the CLI so tests and ``serve`` build the same server, and so the reconcile loop
can be added here without touching the secrets API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from gitberth.api import dashboard, routes_deploy, routes_hooks, routes_status
from gitberth.api.app import create_app
from gitberth.api.context import ServerContext
from gitberth.core.container_options import PublishPolicy
from gitberth.core.errors import RuntimeUnavailableError
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
from gitberth.operations import Operations, OperationsSettings
from gitberth.operations import install as install_operations
from gitberth.runtime.base import Runtime
from gitberth.runtime.choice import RuntimeKind
from gitberth.runtime.secret_files import SecretFilesRoot
from gitberth.runtime.select import build_runtime
from gitberth.source_id import source_id
from gitberth.spec_ledger import SpecLedger
from gitberth.status import StatusStore

logger = logging.getLogger("gitberth.server")


@dataclass(frozen=True)
class RepoSettings:
    repo: str | None
    branch: str = DEFAULT_BRANCH
    apps_dir: str = DEFAULT_APPS_DIR
    secrets_dir: Path = DEFAULT_SECRETS_ROOT
    grace_seconds: int = DEFAULT_GRACE_SECONDS
    interval: float = DEFAULT_INTERVAL
    rollout_timeout: float = DEFAULT_ROLLOUT_TIMEOUT
    workers: int = DEFAULT_WORKERS
    webhook_secret: str | None = None
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


def build_app(context: ServerContext, settings: RepoSettings) -> FastAPI:
    """The API app; with a repo, the reconcile loop (which a secret write also triggers, so
    exactly its consumers are replaced), and for a local repo ``POST /deploy``."""
    if settings.repo is None:
        app = create_app(context, routers=[routes_deploy.router, dashboard.router])
        app.state.deployer = None
        return app
    secret_files = SecretFilesRoot(settings.secrets_dir)
    secret_files.check()
    runtime = build_runtime(
        source=source_id(settings.repo, branch=settings.branch, apps_dir=settings.apps_dir),
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
    loop = build_loop(context, settings, runtime=runtime)
    operations, operation_routers = install_operations(
        context,
        settings.operations,
        loop=loop,
        runtime=runtime,
    )
    app = create_app(
        context,
        routers=[
            routes_deploy.router,
            routes_status.router(loop),
            routes_hooks.router(loop, secret=settings.webhook_secret),
            *operation_routers,
            dashboard.router,
        ],
        on_startup=[_start(loop)],
        on_shutdown=[_stop(loop), _stop_operations(operations)],
    )
    app.state.loop = loop
    source = loop.source
    if source.remote is None:
        source.repos.read(lambda repo: repo.git_dir)  # not a repository: refuse to start
    deployer = Deployer(
        repos=source.repos,
        branch=settings.branch,
        apps_dir=settings.apps_dir,
        runtime=runtime,
        secrets=context.store,
        known_specs=loop.known_specs,
        lock=loop.lock,
        remote=source.remote,
        on_committed=loop.adopt_revision,
        observers=loop.observers,
        publish=settings.publish,
    )
    app.state.deployer = deployer
    return app


def build_loop(context: ServerContext, settings: RepoSettings, *, runtime: Runtime) -> Loop:
    """The reconcile loop over the repo, sharing the store, ledger and engine with deploys."""
    assert settings.repo is not None
    loop = Loop(
        settings=LoopSettings(
            repo=settings.repo,
            state_dir=context.db.state.path,
            branch=settings.branch,
            apps_dir=settings.apps_dir,
            interval=settings.interval,
            workers=settings.workers,
            publish=settings.publish,
            credentials_secret=settings.repo_credentials,
            secrets_dir=settings.secrets_dir,
        ),
        runtime=runtime,
        status=StatusStore(context.db),
        secrets=context.store,
        known_specs=SpecLedger(context.db),
    )
    context.on_secrets_changed.append(loop.secrets_changed)
    return loop


def _start(loop: Loop) -> Callable[[ServerContext], Awaitable[None]]:
    async def start(context: ServerContext) -> None:
        loop.start()

    return start


def _stop_operations(operations: Operations) -> Callable[[ServerContext], Awaitable[None]]:
    async def stop(context: ServerContext) -> None:
        await asyncio.to_thread(operations.stop)

    return stop


def _stop(loop: Loop) -> Callable[[ServerContext], Awaitable[None]]:
    async def stop(context: ServerContext) -> None:
        # SIGTERM reaches uvicorn, which runs this: the action in flight finishes, no other starts.
        await asyncio.to_thread(loop.stop)

    return stop
