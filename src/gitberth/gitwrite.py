"""Commit one file to a branch of a local repository, safely, without touching its checkout.

``POST /deploy`` must end with Git as the single source of truth, so it writes the manifest as a
commit. Three properties matter and plain ``git commit`` in the user's checkout has none of them:

* compare-and-swap: the commit is built on the tip read at the start and the ref is moved with
  ``git update-ref <ref> <new> <old>``, which fails if someone committed meanwhile; we then
  rebuild on the new tip, so a concurrent commit is never lost;
* no clobbering: the tree is built in a private temporary index, never the checkout's index;
  when the branch is checked out, the working tree is fast-forwarded only where the user has
  no local change (``git read-tree -m -u``), and left alone otherwise;
* honest authorship: the author is the token that asked for the deploy.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from dataclasses import dataclass
from typing import Protocol

import git

from gitberth.core.errors import DeployError, ReadOnlyRepoError

CAS_ATTEMPTS = 20


@dataclass(frozen=True)
class Author:
    name: str
    email: str


def commit_file(
    repo: git.Repo,
    *,
    branch: str,
    path: str,
    content: str,
    message: str,
    author: Author,
) -> str:
    """Commit *content* at *path* on *branch*; return the new commit sha (or the tip when the
    file already has exactly that content)."""
    ref = f"refs/heads/{branch}"
    for _ in range(CAS_ATTEMPTS):
        try:
            old = repo.git.rev_parse("--verify", "--quiet", ref)
        except git.GitCommandError:
            old = ""
        new = _build_commit(
            repo, parent=old or None, path=path, content=content, message=message, author=author
        )
        if new is None:
            return str(old)
        try:
            repo.git.update_ref(ref, new, old or "0" * 40, m=message)
        except git.GitCommandError:
            time.sleep(random.uniform(0, 0.05))  # the ref moved under us: rebuild on the new tip
            continue
        _fast_forward_checkout(repo, branch=branch, old=old, new=new)
        return new
    raise DeployError(f"{ref} kept moving; gave up after {CAS_ATTEMPTS} attempts")


def _build_commit(
    repo: git.Repo,
    *,
    parent: str | None,
    path: str,
    content: str,
    message: str,
    author: Author,
) -> str | None:
    with tempfile.TemporaryDirectory(prefix="gitberth-index-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        if parent:
            repo.git.read_tree(parent, env=env)
        blob = repo.git.hash_object("-w", "--stdin", istream=_stream(content))
        repo.git.update_index("--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        tree = repo.git.write_tree(env=env)
    if parent and repo.git.rev_parse(f"{parent}^{{tree}}") == tree:
        return None
    identity = {
        "GIT_AUTHOR_NAME": author.name,
        "GIT_AUTHOR_EMAIL": author.email,
        "GIT_COMMITTER_NAME": "gitberth",
        "GIT_COMMITTER_EMAIL": "gitberth@localhost",
    }
    args = [tree, "-m", message] + (["-p", parent] if parent else [])
    return str(repo.git.commit_tree(*args, env=identity))


def _stream(content: str) -> tempfile.SpooledTemporaryFile[bytes]:
    buffer: tempfile.SpooledTemporaryFile[bytes] = tempfile.SpooledTemporaryFile()
    buffer.write(content.encode("utf-8"))
    buffer.seek(0)
    return buffer


def _fast_forward_checkout(repo: git.Repo, *, branch: str, old: str, new: str) -> None:
    """Bring a checkout of *branch* along, but never over a local change."""
    if repo.bare or not old:
        return
    try:
        checked_out = repo.active_branch.name == branch
    except TypeError:  # detached HEAD
        checked_out = False
    if not checked_out:
        return
    try:
        repo.git.read_tree("-m", "-u", old, new)
    except git.GitCommandError:
        pass  # a local edit in the way: the user's working tree wins; `git status` shows it


PUSH_ATTEMPTS = 5


class Upstream(Protocol):
    """The remote a mirror follows (:class:`gitberth.remote.RemoteRepo`)."""

    def fetch(self) -> None: ...

    def push(self, sha: str, *, branch: str) -> bool: ...


def commit_and_push(
    repo: git.Repo,
    *,
    remote: Upstream | None,
    branch: str,
    path: str,
    content: str,
    message: str,
    author: Author,
    missing_branch: str | None = None,
) -> str:
    """Commit *content* at *path* on *branch* (:func:`commit_file`) and, for a remote, on a
    fresh fetch, push it as a fast-forward; when someone else pushed first, undo the local
    commit and build again on the new tip. A refused push (:class:`ReadOnlyRepoError`) leaves
    the mirror as the remote has it. With *missing_branch* (the error's message), a branch
    that has no commit yet is an error instead of getting a first one. Deploys and rollbacks
    both publish this way."""
    for _ in range(PUSH_ATTEMPTS):
        if remote is not None:
            remote.fetch()
        before = branch_tip(repo, branch)
        if before is None and missing_branch is not None:
            raise DeployError(missing_branch)
        sha = commit_file(
            repo, branch=branch, path=path, content=content, message=message, author=author
        )
        if not sha:
            raise DeployError(f"branch {branch} has no commit to deploy onto")
        if remote is None or sha == before:
            return sha
        try:
            if remote.push(sha, branch=branch):
                return sha
        except ReadOnlyRepoError:
            _reset(repo, branch, before)
            raise
        _reset(repo, branch, before)
    raise DeployError(f"{branch} kept moving on the remote; gave up after {PUSH_ATTEMPTS}")


def branch_tip(repo: git.Repo, branch: str) -> str | None:
    try:
        return str(repo.git.rev_parse("--verify", "--quiet", f"refs/heads/{branch}"))
    except git.GitCommandError:
        return None


def _reset(repo: git.Repo, branch: str, sha: str | None) -> None:
    """Undo a local commit that did not reach the remote (the mirror must match the remote)."""
    if sha is None:
        repo.git.update_ref("-d", f"refs/heads/{branch}")
    else:
        repo.git.update_ref(f"refs/heads/{branch}", sha)
