"""Read manifests from Git: committed state only, never the working tree.

A :class:`Revision` is the artifact between fetching and applying (as in Flux): a commit sha
and the text of every file under the apps directory at that commit, read from Git's object
database. An edit that is not committed, or a file half-written in the working tree, is
therefore never seen.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import git
from gitdb.exc import BadName, BadObject

from gitberth.core.errors import GitberthError, SourceError
from gitberth.core.manifests import MAX_MANIFEST_BYTES
from gitberth.defaults import DEFAULT_APPS_DIR, DEFAULT_BRANCH

_SYMLINK_MODE = 0o120000

T = TypeVar("T")


@dataclass(frozen=True)
class Revision:
    """Manifests at one commit: ``files`` maps repo-relative paths to text."""

    sha: str
    files: dict[str, str]
    apps_dir: str = DEFAULT_APPS_DIR
    not_utf8: frozenset[str] = frozenset()
    """Manifest paths whose bytes are not UTF-8 (reported as problems, never guessed at)."""
    too_large: Mapping[str, int] = field(default_factory=dict)
    """Manifest paths over the size limit, with their sizes (never read)."""

    @property
    def short(self) -> str:
        return self.sha[:12]


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
    """Every manifest file directly under *apps_dir* at the commit, read from Git objects."""
    sha = resolve_commit(repo, branch=branch, rev=rev)
    commit = repo.commit(sha)
    files: dict[str, str] = {}
    not_utf8: set[str] = set()
    too_large: dict[str, int] = {}
    try:
        tree = commit.tree / apps_dir.strip("/")
    except KeyError:
        return Revision(sha=sha, files=files, apps_dir=apps_dir)
    if not isinstance(tree, git.Tree):
        # Git stores a symbolic link as a blob holding its target: at a commit it is not a
        # directory, and following it could lead anywhere (outside the repository too).
        what = "a symbolic link" if tree.mode == _SYMLINK_MODE else "a file"
        raise SourceError(
            f"{apps_dir.strip('/')} is {what} in Git at {sha[:12]}, not a directory: commit the "
            "manifests in the directory itself, or point --apps-dir at the real one"
        )
    manifests = [blob for blob in tree.blobs if blob.name.endswith((".yaml", ".yml"))]
    for path, data in _read_blobs(repo, manifests, too_large=too_large):
        try:
            files[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            files[path] = ""
            not_utf8.add(path)
    return Revision(
        sha=sha,
        files=files,
        apps_dir=apps_dir,
        not_utf8=frozenset(not_utf8),
        too_large=too_large,
    )


BATCH_READ_FROM = 32
"""From this many manifests on, a revision is read by two ``git cat-file`` processes of its
own; below it, through the Repo's persistent reader (no process start, a round trip each)."""


def _read_blobs(
    repo: git.Repo, blobs: list[git.Blob], *, too_large: dict[str, int]
) -> list[tuple[str, bytes]]:
    """``(path, bytes)`` of every blob within the size limit; the others go to *too_large*
    with their sizes, unread."""
    if len(blobs) < BATCH_READ_FROM:
        sizes = {blob.hexsha: int(blob.size) for blob in blobs}
    else:
        sizes = _blob_sizes(repo, [blob.hexsha for blob in blobs])
    small = []
    for blob in blobs:
        if sizes[blob.hexsha] > MAX_MANIFEST_BYTES:
            too_large[str(blob.path)] = sizes[blob.hexsha]
        else:
            small.append(blob)
    if len(small) < BATCH_READ_FROM:
        return [(str(blob.path), bytes(blob.data_stream.read())) for blob in small]
    contents = _blob_contents(repo, [blob.hexsha for blob in small])
    return [(str(blob.path), contents[blob.hexsha]) for blob in small]


def _cat_file(repo: git.Repo, mode: str, shas: list[str]) -> bytes:
    """``git cat-file --batch[-check]`` over every sha at once: one process and one pipe
    round for a whole revision, where reading blob by blob costs two round trips each (a
    review of 1,000 manifests spent most of its Git time waiting on them)."""
    if not shas:
        return b""
    try:
        completed = subprocess.run(
            [
                git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git",
                "--git-dir",
                str(repo.git_dir),
                "cat-file",
                mode,
            ],
            input="".join(f"{sha}\n" for sha in shas).encode(),
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SourceError(f"cannot read the repository's objects: {exc}") from exc
    return completed.stdout


def _blob_sizes(repo: git.Repo, shas: list[str]) -> dict[str, int]:
    """Each blob's size (read from its header only: a huge blob is never loaded)."""
    sizes: dict[str, int] = {}
    for line in _cat_file(repo, "--batch-check", shas).splitlines():
        parts = line.decode().split()
        if len(parts) != 3 or parts[1] != "blob":
            raise SourceError(f"cannot read a manifest's blob: git answered {' '.join(parts)!r}")
        sizes[parts[0]] = int(parts[2])
    return sizes


def _blob_contents(repo: git.Repo, shas: list[str]) -> dict[str, bytes]:
    """Each blob's bytes, from one ``git cat-file --batch`` (each answer is a header line
    ``SHA blob SIZE``, the bytes, and a newline)."""
    output = _cat_file(repo, "--batch", sorted(set(shas)))
    contents: dict[str, bytes] = {}
    offset = 0
    while offset < len(output):
        header_end = output.index(b"\n", offset)
        sha, _, size = output[offset:header_end].decode().split()
        start = header_end + 1
        contents[sha] = output[start : start + int(size)]
        offset = start + int(size) + 1
    return contents


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
