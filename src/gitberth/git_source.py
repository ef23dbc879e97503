"""The Git side of the loop: a local repository, or the state-dir mirror of a remote.

The loop, each deploy and each rollback read through one :class:`GitSource`; every thread gets
its own ``git.Repo`` (GitPython's readers are not thread-safe). Each revision is read with the
repository's own switches (:func:`read_settings`, ``gitberth.yaml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gitberth.core.errors import ConfigError, SourceError
from gitberth.core.manifests import yaml_alias_problem
from gitberth.core.prune import SETTINGS_FILE
from gitberth.defaults import DEFAULT_SECRETS_ROOT
from gitberth.git_credentials import CredentialsLoader, store_loader
from gitberth.reconciler import SecretSource
from gitberth.remote import RemoteRepo, is_remote, sanitize
from gitberth.source import (
    RepoPerThread,
    Revision,
    open_repo,
    read_file_at,
    read_revision,
    resolve_commit,
)

MAX_SETTINGS_BYTES = 64 * 1024


@dataclass(frozen=True)
class RepoSettings:
    """Repository-wide switches read from ``gitberth.yaml`` at the root of the revision."""

    allow_empty: bool = False


def read_settings(repo: git.Repo, *, sha: str) -> RepoSettings:
    """The settings at *sha*; a missing file means the safe defaults.

    Only ``allowEmpty: true`` (a real YAML boolean) turns the guard off; a missing,
    unparsable or misspelt file keeps it on, because failing safe here costs only a refusal.
    So does a file over :data:`MAX_SETTINGS_BYTES` or with YAML anchors or aliases (which
    could expand without limit), read by no parser at all.
    """
    try:
        text = read_file_at(repo, sha=sha, path=SETTINGS_FILE, max_bytes=MAX_SETTINGS_BYTES)
    except SourceError:
        return RepoSettings()  # oversized: never parsed
    if text is None or yaml_alias_problem(text, file=SETTINGS_FILE) is not None:
        return RepoSettings()
    try:
        data = YAML(typ="safe").load(text)
    except YAMLError:
        return RepoSettings()
    return RepoSettings(allow_empty=isinstance(data, dict) and data.get("allowEmpty") is True)


class GitSource:
    """The Git side of the loop: a local repository, or the state-dir mirror of a remote.

    Every thread that reads through it (the loop, each deploy request) gets its own
    ``git.Repo`` (see :class:`~gitberth.source.RepoPerThread`)."""

    def __init__(
        self,
        repo: str,
        *,
        state_dir: Path,
        branch: str,
        apps_dir: str,
        credentials: CredentialsLoader | None = None,
        secrets_dir: Path = DEFAULT_SECRETS_ROOT,
    ) -> None:
        self.branch = branch
        self.apps_dir = apps_dir
        if credentials is not None and not is_remote(repo):
            raise ConfigError(
                f"{repo} is a local path: credentials are for a remote URL (https or ssh)"
            )
        self.remote = (
            RemoteRepo(repo, state_dir=state_dir, credentials=credentials, ram_dir=secrets_dir)
            if is_remote(repo)
            else None
        )
        self.display = self.remote.display if self.remote else str(Path(repo).resolve())
        self._path = None if self.remote else Path(repo)
        self.repos = RepoPerThread(self._open)

    def _open(self) -> git.Repo:
        if self.remote is not None:
            return self.remote.open_reader()
        assert self._path is not None
        return open_repo(self._path)

    @property
    def repo(self) -> git.Repo:
        """The calling thread's Repo."""
        return self.repos.get()

    def fetch(self) -> None:
        """Bring the mirror up to date (remote only; a local repo is always current)."""
        if self.remote is not None:
            self.remote.fetch()

    def head(self) -> str:
        return self.repos.read(lambda repo: resolve_commit(repo, branch=self.branch))

    def read(self, sha: str) -> tuple[Revision, RepoSettings]:
        return self.repos.read(
            lambda repo: (
                read_revision(repo, rev=sha, apps_dir=self.apps_dir),
                read_settings(repo, sha=sha),
            )
        )

    def watched_files(self) -> tuple[Path, ...]:
        """The files whose change means a new commit on the branch (local repos only)."""
        if self.remote is not None:
            return ()
        git_dir = Path(self.repo.git_dir).resolve()
        return (git_dir / "refs" / "heads" / self.branch, git_dir / "packed-refs")


def credentials_loader(
    repo: str, *, secret: str | None, secrets: SecretSource
) -> CredentialsLoader | None:
    """Reads the source's credentials secret (``--repo-credentials``) from the store before
    every Git command."""
    if secret is None:
        return None
    return store_loader(
        lambda: secrets.materials([(None, secret)]), secret=secret, url=sanitize(repo)
    )
