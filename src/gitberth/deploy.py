"""``POST /deploy``: validate a manifest, check its secrets, commit it to Git, apply that app.

The deploy request is turned into the same thing a developer would do by hand — a commit of
``apps/<name>.yaml`` on the tracked branch — so Git stays the single source of truth and the
reconcile loop never fights the API. Everything is checked before anything is written.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import git
from ruamel.yaml import YAML

from gitberth.core.binds import BindPolicy
from gitberth.core.container_options import PublishPolicy
from gitberth.core.errors import (
    ConflictError,
    ManifestErrors,
    SourceError,
    UnknownSecretError,
)
from gitberth.core.manifest_checks import check_binds, container_name_clash, reserved_port_problems
from gitberth.core.manifests import (
    MAX_MANIFEST_BYTES,
    load_manifests,
    too_large_problem,
    validate_manifest,
)
from gitberth.core.models import AppManifest
from gitberth.core.resolve import candidate_keys, missing_secrets, resolve_app
from gitberth.core.resolved import ResolvedApp
from gitberth.gitwrite import Author, commit_and_push
from gitberth.observers import ActionCollector, PassObservers, PassOutcome
from gitberth.reconciler import ReconcileResult, SecretSource, history_from_repo, reconcile_once
from gitberth.remote import RemoteRepo
from gitberth.runtime.base import Runtime, bind_policy_of
from gitberth.source import RepoPerThread, read_revision


@dataclass(frozen=True)
class DeployOutcome:
    app: str
    revision: str
    result: ReconcileResult
    sources: dict[str, dict[str, dict[str, str]]]
    """service -> {"env": {NAME: origin}, "files": {KEY: origin}}; names only, never values."""
    source: str = ""
    """The name of the source the deploy committed to (several sources: the app's owner)."""


def value_sources(app: ResolvedApp) -> dict[str, dict[str, dict[str, str]]]:
    """Where each variable and file of each service comes from (inline env or which secret)."""
    return {
        service.service: {
            "env": {name: item.origin.describe() for name, item in sorted(service.env.items())},
            "files": {name: item.origin.describe() for name, item in sorted(service.files.items())},
        }
        for service in app.services
    }


def manifest_yaml(manifest: AppManifest) -> str:
    """The manifest as a reviewer would want to read it in Git: only the fields set."""
    data = manifest.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data = {"name": manifest.name, **{k: v for k, v in data.items() if k != "name"}}
    if "services" in data:
        data["services"] = [
            {"name": s["name"], **{k: v for k, v in s.items() if k != "name"}}
            for s in data["services"]
        ]
    buffer = io.StringIO()
    writer = YAML(typ="rt", pure=True)  # keeps the field order of the model
    writer.default_flow_style = False
    writer.dump(data, buffer)
    return buffer.getvalue()


class Deployer:
    """Commits deploys to a local repository and applies them; one deploy at a time."""

    def __init__(
        self,
        *,
        repos: RepoPerThread,
        branch: str,
        apps_dir: str,
        runtime: Runtime,
        secrets: SecretSource,
        known_specs: MutableMapping[str, Mapping[str, Any]] | None = None,
        lock: threading.Lock | None = None,
        remote: RemoteRepo | None = None,
        on_committed: Callable[[str], None] | None = None,
        observers: PassObservers | None = None,
        publish: PublishPolicy | None = None,
    ) -> None:
        """*repos* opens the local repository, or the state-dir mirror of *remote* (to which
        every deploy is then pushed), once per thread; it is opened at deploy time, so a remote
        that cannot be cloned yet does not stop the server from starting. *on_committed* runs,
        under *lock*, with each new commit: the loop adopts it, so a pass woken meanwhile
        applies the new revision and not the old one."""
        self.repos = repos
        self.remote = remote
        self.on_committed = on_committed
        self.branch = branch
        self.apps_dir = apps_dir
        self.runtime = runtime
        self.secrets = secrets
        self.known_specs = known_specs if known_specs is not None else {}
        self.lock = lock or threading.Lock()
        self.observers = observers or PassObservers()
        """Told of each deploy's apply, as the loop tells them of its passes."""
        self.publish = publish or PublishPolicy()

    @property
    def repo(self) -> git.Repo:
        """The calling thread's Repo (a Repo is not safe to share between threads)."""
        return self.repos.get()

    def validate(self, body: Any) -> AppManifest:
        name = body.get("name") if isinstance(body, dict) else None
        file = f"{self.apps_dir}/{name}.yaml" if isinstance(name, str) else "request body"
        manifest = validate_manifest(body, file=file)
        size = len(manifest_yaml(manifest).encode("utf-8"))
        if size > MAX_MANIFEST_BYTES:  # the loop would refuse to read it from Git
            raise ManifestErrors([too_large_problem(file, size)])
        refused = reserved_port_problems(
            manifest, file=file, reserved=self.publish.reserved_host_ports
        )
        policy = bind_policy_of(self.runtime)
        refused += check_binds(manifest, text=None, file=file, policy=policy or BindPolicy())
        if refused:
            raise ManifestErrors(refused)
        return manifest

    def check_secrets(self, manifest: AppManifest) -> ResolvedApp:
        """Fail fast, before anything is written, on names that exist in neither scope."""
        available = self.secrets.materials(candidate_keys(manifest))
        missing = missing_secrets(manifest, available)
        if missing:
            raise UnknownSecretError(missing)
        return resolve_app(
            manifest, secrets=available, publish_address=self.publish.default_address
        )

    def _commit(self, manifest: AppManifest, *, author: Author) -> str:
        """Commit the manifest; for a remote, on a fresh fetch, and push it (retrying when
        someone else pushed first)."""
        return commit_and_push(
            self.repo,
            remote=self.remote,
            branch=self.branch,
            path=f"{self.apps_dir}/{manifest.name}.yaml",
            content=manifest_yaml(manifest),
            message=f"deploy {manifest.name}",
            author=author,
        )

    def check_names(self, manifest: AppManifest) -> None:
        """409 when the app's container names already belong to another app at the tip."""
        try:
            revision = self.repos.read(
                lambda repo: read_revision(repo, branch=self.branch, apps_dir=self.apps_dir)
            )
        except SourceError:
            return  # no commit yet: nothing to clash with
        others = load_manifests(
            revision.files,
            apps_dir=revision.apps_dir,
            not_utf8=revision.not_utf8,
            too_large=revision.too_large,
        ).apps
        clash = container_name_clash(manifest, others)
        if clash is not None:
            other, base = clash
            raise ConflictError(
                f"app {manifest.name} would name containers {base}-<n>, which app {other} "
                "already has; rename the app or the service"
            )

    def deploy(self, manifest: AppManifest, *, author: Author) -> DeployOutcome:
        resolved = self.check_secrets(manifest)
        with self.lock:
            self.check_names(manifest)
            try:
                sha = self._commit(manifest, author=author)
            except (git.GitError, ValueError, OSError):
                self.repos.discard()  # never keep a reader that may be in a bad state
                raise
            if self.on_committed is not None:
                self.on_committed(sha)
            revision = self.repos.read(
                lambda repo: read_revision(repo, rev=sha, apps_dir=self.apps_dir)
            )
            started_wall, started = time.time(), time.monotonic()
            self.observers.started(revision=sha)
            collector = ActionCollector()
            result = reconcile_once(
                revision=revision,
                runtime=self.runtime,
                secrets=self.secrets,
                known_specs=self.known_specs,
                publish=self.publish,
                history=history_from_repo(
                    self.repo, apps_dir=self.apps_dir, secrets=self.secrets, publish=self.publish
                ),
                only_apps=frozenset({manifest.name}),
                listener=collector.listen,
            )
        self.observers.finished(
            PassOutcome(
                revision=sha,
                result=result,
                actions=collector.snapshot(),
                trigger=f"deploy {manifest.name}",
                only_apps=frozenset({manifest.name}),
                started_at=started_wall,
                duration_seconds=round(time.monotonic() - started, 4),
            )
        )
        return DeployOutcome(
            app=manifest.name, revision=sha, result=result, sources=value_sources(resolved)
        )
