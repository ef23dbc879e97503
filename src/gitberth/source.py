"""Read manifests from Git: committed state only, never the working tree.

A :class:`Revision` is the artifact between fetching and applying (as in Flux): a commit sha
and the text of every file under the apps directory at that commit, read from Git's object
database. An edit that is not committed, or a file half-written in the working tree, is
therefore never seen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import git
from gitdb.exc import BadName, BadObject

from gitberth.core.errors import GitberthError, SourceError
from gitberth.defaults import DEFAULT_APPS_DIR, DEFAULT_BRANCH
from gitberth.git_objects import Revision, read_trees

_SYMLINK_MODE = 0o120000

T = TypeVar("T")

__all__ = [
    "RepoPerThread",
    "Revision",
    "open_repo",
    "read_file_at",
    "read_revision",
    "resolve_commit",
]


def open_repo(path: str | Path) -> git.Repo:
    """Open a local repository (bare or not), with a clear error when it is not one."""
    try:
        return git.Repo(str(path))
    except (git.NoSuchPathError, git.InvalidGitRepositoryError) as exc:
        raise SourceError(f"{path} is not a Git repository") from exc


class RepoPerThread:
    """One :class:`git.Repo` per thread, and a fresh one after any failed read.

    A ``git.Repo`` reads objects through persistent ``git cat-file --batch`` processes, one
    request and one answer at a time over a pipe. Two threads sharing it interleave their
    requests and answers, and from then on every read gets someone else's answer (``SHA b'tree'
    could not be resolved``, ``Require 20 byte binary sha``) until the process is restarted.
    So each thread (the loop, each request thread of ``POST /deploy``) gets its own Repo, and a
    read that fails for any reason closes that thread's Repo and tries once more on a fresh
    one: a reader left in a bad state by a crash or a killed process never poisons later reads.
    """

    def __init__(self, opener: Callable[[], git.Repo]) -> None:
        self._opener = opener
        self._local = threading.local()

    def get(self) -> git.Repo:
        """This thread's Repo, opened on first use."""
        repo: git.Repo | None = getattr(self._local, "repo", None)
        if repo is None:
            repo = self._opener()
            self._local.repo = repo
        return repo

    def discard(self) -> None:
        """Close this thread's Repo (its cat-file processes end); the next get() opens anew."""
        repo: git.Repo | None = getattr(self._local, "repo", None)
        self._local.repo = None
        if repo is not None:
            repo.close()

    def read(self, reader: Callable[[git.Repo], T]) -> T:
        """``reader(repo)``, retried once on a fresh Repo when it fails.

        A failure that is not one of gitberth's own errors the second time too becomes a
        :class:`SourceError`, so callers keep the last good revision instead of crashing.
        """
        try:
            return reader(self.get())
        except Exception:  # noqa: BLE001 - a broken reader can look like any error, even a
            self.discard()  # missing branch; one more try on a fresh reader tells them apart
        try:
            return reader(self.get())
        except GitberthError:
            self.discard()
            raise
        except Exception as exc:
            self.discard()
            raise SourceError(f"cannot read the repository: {type(exc).__name__}: {exc}") from exc


def resolve_commit(repo: git.Repo, *, branch: str = DEFAULT_BRANCH, rev: str | None = None) -> str:
    """The sha of *rev* if given, else of the tip of *branch*."""
    target = rev or branch
    try:
        return str(repo.commit(target).hexsha)
    except (BadName, BadObject, ValueError, git.BadName) as exc:
        what = f"revision {rev!r}" if rev else f"branch {branch!r}"
        raise SourceError(f"{what} not found in {repo.working_dir or repo.git_dir}") from exc


def read_revision(
    repo: git.Repo,
    *,
    branch: str = DEFAULT_BRANCH,
    rev: str | None = None,
    apps_dir: str = DEFAULT_APPS_DIR,
) -> Revision:
    """Every manifest file directly under *apps_dir* at the commit, read from Git objects
    (listed and read with Git's plumbing commands, as ``plan --base --head`` reads them)."""
    sha = resolve_commit(repo, branch=branch, rev=rev)
    return read_trees(str(repo.git_dir), shas=[sha], apps_dir=apps_dir)[0]


def read_file_at(
    repo: git.Repo, *, sha: str, path: str, max_bytes: int | None = None
) -> str | None:
    """Text of one committed file, or None when it does not exist at that commit (or is not a
    regular file). Raises :class:`SourceError` when it is over *max_bytes* (not read then)."""
    try:
        blob = repo.commit(sha).tree / path
    except (KeyError, BadName, ValueError):
        return None
    if not isinstance(blob, git.Blob) or blob.mode == _SYMLINK_MODE:
        return None
    if max_bytes is not None and blob.size > max_bytes:
        raise SourceError(f"{path} is {blob.size} bytes at {sha[:12]}; at most {max_bytes}")
    return bytes(blob.data_stream.read()).decode("utf-8", errors="replace")
