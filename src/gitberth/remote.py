"""A remote Git repository (https, ssh, git or file://), mirrored bare into the state dir.

The loop reads revisions from the local mirror only, so a fetch that fails (network, auth, a
force-push in progress) leaves the last fetched revision in place: the loop keeps applying the
last good revision and prunes nothing. Git's own error text names the URL, credentials
included when they were put in it; every message leaving this module goes through
:func:`sanitize` first, as Flux does before logging or storing one.

A private remote gets its credentials from a gitberth secret, loaded anew for every command
and handed to Git only for that command (see :mod:`gitberth.git_credentials`); a URL that
carries credentials itself is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import git

from gitberth import git_credentials
from gitberth.core.errors import FetchError, ReadOnlyRepoError
from gitberth.defaults import DEFAULT_SECRETS_ROOT

FETCH_TIMEOUT_SECONDS = 120
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def sanitize(text: str) -> str:
    """*text* with the ``user:password@`` part of every URL in it removed."""
    return _CREDENTIALS.sub(r"\g<scheme>", text)


def is_remote(repo: str) -> bool:
    """True for a URL gitberth should clone (https, http, ssh, git, file); False for a path."""
    return "://" in repo or re.match(r"^[\w.-]+@[\w.-]+:", repo) is not None


class RemoteRepo:
    """The bare mirror of one remote URL under ``<state-dir>/repos/``."""

    def __init__(
        self,
        url: str,
        *,
        state_dir: Path,
        credentials: git_credentials.CredentialsLoader | None = None,
        ram_dir: Path = DEFAULT_SECRETS_ROOT,
    ) -> None:
        git_credentials.refuse_credentials_in_url(url)
        self.url = url
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        self.path = state_dir / "repos" / f"{digest}.git"
        self._repo: git.Repo | None = None
        self._credentials = credentials
        self._ram_dir = ram_dir

    @contextlib.contextmanager
    def _git_env(self) -> Iterator[tuple[dict[str, str], git_credentials.GitCredentials | None]]:
        """The environment of one Git command, with this command's credentials (if any)."""
        credentials = self._credentials() if self._credentials is not None else None
        with git_credentials.git_environment(credentials, ram_dir=self._ram_dir) as env:
            yield env, credentials

    @property
    def display(self) -> str:
        return sanitize(self.url)

    def open(self) -> git.Repo:
        """The local mirror, cloned on first use."""
        if self._repo is not None:
            return self._repo
        if (self.path / "HEAD").exists():
            self._repo = git.Repo(str(self.path))
            return self._repo
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._git_env() as (env, credentials):
            try:
                self._repo = git.Repo.clone_from(
                    self.url,
                    str(self.path),
                    bare=True,
                    env={**os.environ, **env},
                    kill_after_timeout=FETCH_TIMEOUT_SECONDS,
                )
            except (git.GitCommandError, OSError) as exc:
                raise _failure(f"cannot clone {self.display}", exc, credentials) from exc
        return self._repo

    def open_reader(self) -> git.Repo:
        """A Repo of its own on the mirror (cloned first when needed), for one thread's reads."""
        self.open()
        return git.Repo(str(self.path))

    def fetch(self) -> None:
        """Update every branch of the mirror from the remote (forced, as a mirror must)."""
        repo = self.open()
        with self._git_env() as (env, credentials):
            try:
                repo.git.fetch(
                    self.url,
                    "+refs/heads/*:refs/heads/*",
                    "--prune",
                    env=env,
                    kill_after_timeout=FETCH_TIMEOUT_SECONDS,
                )
            except (git.GitCommandError, OSError) as exc:
                raise _failure(f"cannot fetch {self.display}", exc, credentials) from exc

    def push(self, sha: str, *, branch: str) -> bool:
        """Publish *sha* as the remote's *branch*, only as a fast-forward.

        Returns False when the remote moved meanwhile (someone pushed first: fetch, rebuild
        and try again). Raises :class:`ReadOnlyRepoError` when the remote refuses the push
        for any other reason (no write access, a protected branch, a declining hook).
        """
        repo = self.open()
        with self._git_env() as (env, credentials):
            try:
                repo.git.push(
                    self.url,
                    f"{sha}:refs/heads/{branch}",
                    env=env,
                    kill_after_timeout=FETCH_TIMEOUT_SECONDS,
                )
            except (git.GitCommandError, OSError) as exc:
                stderr = str(getattr(exc, "stderr", "") or "")
                if "non-fast-forward" in stderr or "fetch first" in stderr:
                    return False
                reason = git_credentials.explain_failure(stderr, credentials=credentials)
                raise ReadOnlyRepoError(
                    f"gitberth cannot push to {self.display} ({reason or _reason(exc)}); open a "
                    "pull request that adds the manifest instead"
                ) from exc
        return True


def _failure(
    what: str, exc: Exception, credentials: git_credentials.GitCredentials | None
) -> FetchError:
    stderr = sanitize(str(getattr(exc, "stderr", "") or ""))
    reason = git_credentials.explain_failure(stderr, credentials=credentials)
    return FetchError(f"{what}: {reason or _reason(exc)}")


def _reason(exc: Exception) -> str:
    if isinstance(exc, git.GitCommandError):
        stderr = str(exc.stderr or "").strip().replace("stderr: ", "").strip("'\n ")
        return sanitize(stderr.splitlines()[-1] if stderr else f"git exited {exc.status}")
    return sanitize(str(exc))
