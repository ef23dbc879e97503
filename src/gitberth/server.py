"""Assemble what ``gitberth serve`` runs: the API over the state dir, plus deploys to the repo.

Kept apart from the CLI so tests and ``serve`` build the same server, and so the reconcile loop
can be added here without touching the secrets API.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from gitberth.api import routes_deploy
from gitberth.api.app import create_app
from gitberth.api.context import ServerContext
from gitberth.core.errors import GitberthError, ReadOnlyRepoError
from gitberth.deploy import Deployer
from gitberth.runtime.docker import DEFAULT_GRACE_SECONDS, DockerRuntime
from gitberth.runtime.secret_files import DEFAULT_SECRETS_ROOT, SecretFilesRoot
from gitberth.source import DEFAULT_APPS_DIR, DEFAULT_BRANCH, open_repo
from gitberth.spec_ledger import SpecLedger

logger = logging.getLogger("gitberth.server")


@dataclass(frozen=True)
class RepoSettings:
    repo: str | None
    branch: str = DEFAULT_BRANCH
    apps_dir: str = DEFAULT_APPS_DIR
    secrets_dir: Path = DEFAULT_SECRETS_ROOT
    grace_seconds: int = DEFAULT_GRACE_SECONDS


def is_remote(repo: str) -> bool:
    return "://" in repo or repo.startswith("git@")


def build_app(context: ServerContext, settings: RepoSettings) -> FastAPI:
    """The API app; with a local repo, ``POST /deploy`` commits to it and applies at once, and
    every secret write reconciles the branch so exactly the consumers are replaced."""
    app = create_app(context, routers=[routes_deploy.router])
    app.state.deployer = None
    if settings.repo is None:
        return app
    if is_remote(settings.repo):
        app.state.deployer = ReadOnlyRepoError(
            f"gitberth follows the remote {settings.repo} and does not push to it; "
            "open a pull request that adds the manifest instead"
        )
        return app
    secret_files = SecretFilesRoot(settings.secrets_dir)
    secret_files.check()
    runtime = DockerRuntime(grace_seconds=settings.grace_seconds, secret_files=secret_files)
    deployer = Deployer(
        repo=open_repo(Path(settings.repo)),
        branch=settings.branch,
        apps_dir=settings.apps_dir,
        runtime=runtime,
        secrets=context.store,
        known_specs=SpecLedger(context.db),
    )
    app.state.deployer = deployer

    def reconcile_consumers(name: str, app_id: str | None) -> None:
        def run() -> None:
            try:
                result = deployer.reconcile_tip()
            except GitberthError as exc:
                logger.warning("reconcile after a change to secret %s failed: %s", name, exc)
                return
            changed = [a.container_name for a in result.plan.changes]
            logger.info("secret %s changed; replaced %s", name, ", ".join(changed) or "nothing")

        threading.Thread(target=run, name=f"secret-{name}", daemon=True).start()

    context.on_secrets_changed.append(reconcile_consumers)
    return app
