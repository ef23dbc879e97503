"""Roll one app back by committing its manifest as it was at an earlier revision.

A rollback is not a special state the loop has to remember: it is a new commit on the tracked
branch whose ``apps/<app>.yaml`` is byte for byte the file at the chosen revision, so Git stays
the single source of truth, the loop applies it like any commit, ``git log`` shows who rolled
back and to what, and rolling "forward" again is one more commit (or a revert). Other apps'
manifests are untouched because only that one file changes.

The commit is built and published exactly as ``POST /deploy`` does it: a compare-and-swap on the
branch ref (:func:`gitberth.gitwrite.commit_file`), and for a remote a fresh fetch, a
fast-forward push retried when someone else pushed first, and ``409 read_only_repo`` when the
remote refuses. Secrets are not in Git, so they are not rolled back: the restored manifest names
secrets, and the app receives their *current* values. The response and the commit say so.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import git

from gitberth.core.container_options import PublishPolicy
from gitberth.core.errors import (
    AppNotAtRevisionError,
    GitberthError,
    ManifestErrors,
    UnknownRevisionError,
)
from gitberth.core.manifests import MANIFEST_SUFFIXES, parse_manifest
from gitberth.gitwrite import Author, branch_tip, commit_and_push
from gitberth.history import ROLLBACK_TRAILER, commit_info
from gitberth.reconciler import SecretSource, reconcile_once
from gitberth.remote import RemoteRepo
from gitberth.runtime.base import Runtime
from gitberth.source import read_file_at, read_revision

SECRETS_NOTE = (
    "secrets are not rolled back: the restored manifest names secrets, and the app gets their "
    "current values"
)
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/~^@{}-]{0,199}$")
"""What a revision argument may look like: a sha, a tag, ``main~3``; never an option."""


@dataclass(frozen=True)
class RollbackTarget:
    """The manifest of one app as it was at one earlier revision."""

    app: str
    revision: str
    subject: str
    path: str
    content: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class RollbackOutcome:
    app: str
    restored: str
    """The full sha of the revision whose manifest was restored."""
    revision: str
    """The new commit on the branch (the tip, when the manifest already was that one)."""
    changed: bool
    subject: str
    secrets: tuple[str, ...]
    plan: list[dict[str, Any]] = field(default_factory=list)
    plan_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "restored": self.restored,
            "restoredSubject": self.subject,
            "revision": self.revision,
            "changed": self.changed,
            "plan": self.plan,
            "planError": self.plan_error,
            "secrets": {"rolledBack": False, "names": list(self.secrets), "note": SECRETS_NOTE},
        }


class Rollbacker:
    """Commits rollbacks to the tracked branch (and pushes them to a remote)."""

    def __init__(
        self,
        *,
        repo: Callable[[], git.Repo],
        branch: str,
        apps_dir: str,
        runtime: Runtime,
        secrets: SecretSource,
        lock: threading.Lock,
        remote: RemoteRepo | None = None,
        on_committed: Callable[[str], None] | None = None,
        known_specs: MutableMapping[str, Mapping[str, Any]] | None = None,
        publish: PublishPolicy | None = None,
    ) -> None:
        """*known_specs* (the loop's ledger) lets the plan say which field changes.
        *repo* opens the repository (the local one, or the mirror of *remote*); each
        rollback opens its own and closes it (GitPython's readers are not thread-safe).
        *lock* is the deploy lock: a rollback and a deploy never build on the same tip.
        *on_committed* runs under it with the new commit (it wakes the loop, which applies it)."""
        self._open_repo = repo
        self.branch = branch
        self.apps_dir = apps_dir
        self.runtime = runtime
        self.secrets = secrets
        self.lock = lock
        self.remote = remote
        self.on_committed = on_committed
        self.known_specs = known_specs
        self.publish = publish

    def target(self, app: str, *, to: str) -> RollbackTarget:
        """Find *app*'s manifest at revision *to* (see :meth:`_target`)."""
        repo = self._open_repo()
        try:
            return self._target(repo, app, to=to)
        finally:
            repo.close()

    def _target(self, repo: git.Repo, app: str, *, to: str) -> RollbackTarget:
        """Find *app*'s manifest at revision *to*, which must be in the branch's history.

        Raises :class:`UnknownRevisionError` (404) or :class:`AppNotAtRevisionError` (400).
        """
        if not _REVISION.fullmatch(to):
            raise UnknownRevisionError(f"{to!r} is not a revision name")
        try:
            sha = str(repo.git.rev_parse("--verify", "--quiet", f"{to}^{{commit}}"))
        except git.GitCommandError as exc:
            raise UnknownRevisionError(f"no commit {to} in the repository") from exc
        try:
            repo.git.merge_base("--is-ancestor", sha, f"refs/heads/{self.branch}")
        except git.GitCommandError as exc:
            raise UnknownRevisionError(
                f"{to} ({sha[:12]}) is not in the history of {self.branch}"
            ) from exc
        paths = [f"{self.apps_dir}/{app}{suffix}" for suffix in MANIFEST_SUFFIXES]
        found = [(p, read_file_at(repo, sha=sha, path=p)) for p in paths]
        path, content = next(((p, c) for p, c in found if c is not None), (paths[0], None))
        if content is None:
            raise AppNotAtRevisionError(f"{path} does not exist at {sha[:12]}", field="to")
        tip = f"refs/heads/{self.branch}"
        for other in paths:
            if other != path and read_file_at(repo, sha=tip, path=other) is not None:
                raise AppNotAtRevisionError(
                    f"{app} was {path} at {sha[:12]} but is {other} now; restoring it would "
                    "declare the app twice",
                    field="to",
                )
        try:
            manifest = parse_manifest(content, file=path)
        except ManifestErrors as exc:
            raise AppNotAtRevisionError(
                f"{path} at {sha[:12]} is not a valid manifest today: {exc.problems[0]}",
                field="to",
            ) from exc
        if manifest.name != app:
            raise AppNotAtRevisionError(
                f"{path} at {sha[:12]} declares app {manifest.name}", field="to"
            )
        return RollbackTarget(
            app=app,
            revision=sha,
            subject=commit_info(repo, sha).subject,
            path=path,
            content=content,
            secrets=manifest.secret_names(),
        )

    def rollback(self, app: str, *, to: str, author: Author) -> RollbackOutcome:
        """Commit *app*'s manifest as it was at *to*, and hand the commit to the loop."""
        repo = self._open_repo()
        try:
            return self._rollback(repo, app, to=to, author=author)
        finally:
            repo.close()

    def _rollback(self, repo: git.Repo, app: str, *, to: str, author: Author) -> RollbackOutcome:
        target = self._target(repo, app, to=to)
        message = (
            f"rollback {app} to {target.revision[:12]}\n\n"
            f"Restores {target.path} as it was at {target.revision}\n"
            f"({target.subject}).\n"
            f"Other apps are untouched; {SECRETS_NOTE}.\n\n"
            f"{ROLLBACK_TRAILER}: {target.revision}\n"
        )
        with self.lock:
            before = branch_tip(repo, self.branch)
            sha = self._commit(repo, target, message=message, author=author)
            if sha != before and self.on_committed is not None:
                self.on_committed(sha)
        outcome = RollbackOutcome(
            app=app,
            restored=target.revision,
            revision=sha,
            changed=sha != before,
            subject=target.subject,
            secrets=target.secrets,
        )
        return self._with_plan(repo, outcome)

    def _commit(
        self, repo: git.Repo, target: RollbackTarget, *, message: str, author: Author
    ) -> str:
        return commit_and_push(
            repo,
            remote=self.remote,
            branch=self.branch,
            path=target.path,
            content=target.content,
            message=message,
            author=author,
            missing_branch=f"branch {self.branch} has no commit to roll back on",
        )

    def _with_plan(self, repo: git.Repo, outcome: RollbackOutcome) -> RollbackOutcome:
        """What the loop is about to do for the app (a dry run against the live containers)."""
        try:
            revision = read_revision(repo, rev=outcome.revision, apps_dir=self.apps_dir)
            result = reconcile_once(
                revision=revision,
                runtime=self.runtime,
                secrets=self.secrets,
                dry_run=True,
                only_apps=frozenset({outcome.app}),
                known_specs=dict(self.known_specs) if self.known_specs is not None else None,
                publish=self.publish,
            )
        except GitberthError as exc:
            return dataclasses.replace(outcome, plan_error=str(exc))
        report = result.apps.get(outcome.app)
        plan = [
            {"action": a.kind.value, "container": a.container_name, "reason": a.reason}
            for a in result.plan.for_app(outcome.app)
        ]
        error = report.message if report is not None and report.status.is_error else None
        return dataclasses.replace(outcome, plan=plan, plan_error=error)
