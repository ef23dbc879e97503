"""Read manifests from Git: committed state only, never the working tree.

A :class:`Revision` is the artifact between fetching and applying (as in Flux): a commit sha
and the text of every file under the apps directory at that commit, read from Git's object
database. An edit that is not committed, or a file half-written in the working tree, is
therefore never seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import git
from gitdb.exc import BadName, BadObject

from gitberth.core.errors import SourceError
from gitberth.defaults import DEFAULT_APPS_DIR, DEFAULT_BRANCH


@dataclass(frozen=True)
class Revision:
    """Manifests at one commit: ``files`` maps repo-relative paths to text."""

    sha: str
    files: dict[str, str]
    apps_dir: str = DEFAULT_APPS_DIR
    not_utf8: frozenset[str] = frozenset()
    """Manifest paths whose bytes are not UTF-8 (reported as problems, never guessed at)."""

    @property
    def short(self) -> str:
        return self.sha[:12]


def open_repo(path: str | Path) -> git.Repo:
    """Open a local repository (bare or not), with a clear error when it is not one."""
    try:
        return git.Repo(str(path))
    except (git.NoSuchPathError, git.InvalidGitRepositoryError) as exc:
        raise SourceError(f"{path} is not a Git repository") from exc


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
    """Every manifest file directly under *apps_dir* at the commit, read from Git objects."""
    sha = resolve_commit(repo, branch=branch, rev=rev)
    commit = repo.commit(sha)
    files: dict[str, str] = {}
    not_utf8: set[str] = set()
    try:
        tree = commit.tree / apps_dir.strip("/")
    except KeyError:
        return Revision(sha=sha, files=files, apps_dir=apps_dir)
    for blob in tree.blobs:
        if not blob.name.endswith((".yaml", ".yml")):
            continue
        data = blob.data_stream.read()
        try:
            files[str(blob.path)] = data.decode("utf-8")
        except UnicodeDecodeError:
            files[str(blob.path)] = ""
            not_utf8.add(str(blob.path))
    return Revision(sha=sha, files=files, apps_dir=apps_dir, not_utf8=frozenset(not_utf8))


def read_file_at(repo: git.Repo, *, sha: str, path: str) -> str | None:
    """Text of one committed file, or None when it does not exist at that commit."""
    try:
        blob = repo.commit(sha).tree / path
    except (KeyError, BadName, ValueError):
        return None
    return bytes(blob.data_stream.read()).decode("utf-8", errors="replace")
