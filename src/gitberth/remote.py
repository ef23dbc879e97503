"""A remote Git repository (https or file://), mirrored bare into the state dir and fetched.

The loop reads revisions from the local mirror only, so a fetch that fails (network, auth, a
force-push in progress) leaves the last fetched revision in place: the loop keeps applying the
last good revision and prunes nothing. Git's own error text names the URL, credentials
included when they were put in it; every message leaving this module goes through
:func:`sanitize` first, as Flux does before logging or storing one.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import git

from gitberth.core.errors import FetchError, ReadOnlyRepoError

FETCH_TIMEOUT_SECONDS = 120
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true"}


def sanitize(text: str) -> str:
    """*text* with the ``user:password@`` part of every URL in it removed."""
    return _CREDENTIALS.sub(r"\g<scheme>", text)


def is_remote(repo: str) -> bool:
    """True for a URL gitberth should clone (https, http, ssh, git, file); False for a path."""
    return "://" in repo or re.match(r"^[\w.-]+@[\w.-]+:", repo) is not None


class RemoteRepo:
    """The bare mirror of one remote URL under ``<state-dir>/repos/``."""

    def __init__(self, url: str, *, state_dir: Path) -> None:
        self.url = url
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        self.path = state_dir / "repos" / f"{digest}.git"
        self._repo: git.Repo | None = None

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
        try:
            self._repo = git.Repo.clone_from(
                self.url,
                str(self.path),
                bare=True,
                env={**os.environ, **_GIT_ENV},
                kill_after_timeout=FETCH_TIMEOUT_SECONDS,
            )
        except (git.GitCommandError, OSError) as exc:
            raise FetchError(f"cannot clone {self.display}: {_reason(exc)}") from exc
        return self._repo

    def open_reader(self) -> git.Repo:
        """A Repo of its own on the mirror (cloned first when needed), for one thread's reads."""
        self.open()
        return git.Repo(str(self.path))

    def fetch(self) -> None:
        """Update every branch of the mirror from the remote (forced, as a mirror must)."""
        repo = self.open()
        try:
            with repo.git.custom_environment(**_GIT_ENV):
                repo.git.fetch(
                    self.url,
                    "+refs/heads/*:refs/heads/*",
                    "--prune",
                    kill_after_timeout=FETCH_TIMEOUT_SECONDS,
                )
        except (git.GitCommandError, OSError) as exc:
            raise FetchError(f"cannot fetch {self.display}: {_reason(exc)}") from exc

    def push(self, sha: str, *, branch: str) -> bool:
        """Publish *sha* as the remote's *branch*, only as a fast-forward.

        Returns False when the remote moved meanwhile (someone pushed first: fetch, rebuild
        and try again). Raises :class:`ReadOnlyRepoError` when the remote refuses the push
        for any other reason (no write access, a protected branch, a declining hook).
        """
        repo = self.open()
        try:
            with repo.git.custom_environment(**_GIT_ENV):
                repo.git.push(
                    self.url, f"{sha}:refs/heads/{branch}", kill_after_timeout=FETCH_TIMEOUT_SECONDS
                )
        except (git.GitCommandError, OSError) as exc:
            stderr = str(getattr(exc, "stderr", "") or "")
            if "non-fast-forward" in stderr or "fetch first" in stderr:
                return False
            raise ReadOnlyRepoError(
                f"gitberth cannot push to {self.display} ({_reason(exc)}); open a pull request "
                "that adds the manifest instead"
            ) from exc
        return True


def _reason(exc: Exception) -> str:
    if isinstance(exc, git.GitCommandError):
        stderr = str(exc.stderr or "").strip().replace("stderr: ", "").strip("'\n ")
        return sanitize(stderr.splitlines()[-1] if stderr else f"git exited {exc.status}")
    return sanitize(str(exc))
