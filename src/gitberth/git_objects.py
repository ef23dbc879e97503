"""Read the manifests of a commit with Git's own plumbing commands, without GitPython.

``gitberth plan --base --head`` is a CI job's whole process: importing GitPython alone took a
tenth of a second there, and walking trees through it parsed every tree entry in Python. The
review needs four commands: one ``git cat-file --batch-check`` resolves both revisions, one
``git ls-tree -l`` per revision lists its manifests with their sizes, and one ``git cat-file
--batch`` reads every distinct blob of both (a manifest unchanged between them is read once).
The loop reads through :func:`gitberth.source.read_revision`, which resolves with GitPython and
lists and reads here too, so both read a commit the same way.

Only committed objects are read, never the working tree.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitberth.core.errors import SourceError
from gitberth.core.manifests import MAX_MANIFEST_BYTES
from gitberth.defaults import DEFAULT_APPS_DIR, DEFAULT_BRANCH

_SYMLINK_MODE = "120000"


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


@dataclass(frozen=True)
class ManifestEntry:
    """One manifest file of a commit's tree: its path, blob id and size."""

    path: str
    sha: str
    size: int


def git_executable() -> str:
    """The git GitPython would run (``GIT_PYTHON_GIT_EXECUTABLE``), so both agree."""
    return os.environ.get("GIT_PYTHON_GIT_EXECUTABLE") or "git"


def run_git(repo: str | Path, args: Sequence[str], *, stdin: bytes | None = None) -> bytes:
    """``git -C REPO ARGS`` and its output; :class:`SourceError` when it fails.

    ``GIT_CEILING_DIRECTORIES`` stops Git at *repo*: a folder inside someone else's work tree
    is not a repository of its own (as with ``git.Repo(path)``, which never searches upwards).
    """
    path = Path(repo).absolute()
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(path.parent)}
    try:
        completed = subprocess.run(
            [git_executable(), "-C", str(path), *args],
            input=stdin,
            capture_output=True,
            check=True,
            env=env,
        )
    except OSError as exc:
        raise SourceError(f"cannot run git: {exc}") from exc
    except subprocess.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", errors="replace")
        if "not a git repository" in stderr or "cannot change to" in stderr:
            raise SourceError(f"{repo} is not a Git repository") from None
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {exc.returncode}"
        raise SourceError(f"cannot read the repository: git {args[0]}: {detail}") from None
    return completed.stdout


def resolve_commits(
    repo: str | Path, revs: Sequence[str | None], *, branch: str = DEFAULT_BRANCH
) -> list[str]:
    """The commit sha of each of *revs* (None: the tip of *branch*), with one process.

    Revisions go to ``git cat-file --batch-check`` on its input, one a line, so none is ever
    read as an option, and each gets its own answer (a missing one is named).
    """
    targets = [rev or branch for rev in revs]
    for rev, target in zip(revs, targets, strict=True):
        if not target or "\n" in target or "\r" in target:
            what = f"revision {rev!r}" if rev else f"branch {branch!r}"
            raise SourceError(f"{what} not found in {repo}")
    request = "".join(f"{target}^{{commit}}\n" for target in targets).encode()
    answers = run_git(repo, ["cat-file", "--batch-check"], stdin=request).splitlines()
    shas = []
    for rev, answer in zip(revs, answers, strict=True):
        parts = answer.decode("utf-8", errors="replace").split()
        if len(parts) != 3 or parts[1] != "commit":
            what = f"revision {rev!r}" if rev else f"branch {branch!r}"
            raise SourceError(f"{what} not found in {repo}")
        shas.append(parts[0])
    return shas


def list_manifests(repo: str | Path, *, sha: str, apps_dir: str) -> list[ManifestEntry]:
    """Every ``.yaml``/``.yml`` blob directly under *apps_dir* at commit *sha*; none when the
    directory does not exist there. A file or symbolic link in its place is an error: Git
    stores a link as a blob holding its target, and following it could lead anywhere."""
    directory = apps_dir.strip("/")
    listing = run_git(repo, ["ls-tree", "-z", "-l", "--full-tree", sha, "--", f"{directory}/"])
    entries = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        _mode, kind, blob, size = meta.decode().split()
        path = raw_path.decode("utf-8", errors="surrogateescape")
        if kind == "blob" and path.endswith((".yaml", ".yml")):
            entries.append(ManifestEntry(path=path, sha=blob, size=int(size)))
    if not entries and not listing:
        # Nothing under it: the directory is missing (no manifests), or not a directory.
        itself = run_git(repo, ["ls-tree", "-z", "--full-tree", sha, "--", directory])
        mode = itself.split(b" ", 1)[0].decode() if itself else None
        if mode is not None and mode != "040000":
            what = "a symbolic link" if mode == _SYMLINK_MODE else "a file"
            raise SourceError(
                f"{directory} is {what} in Git at {sha[:12]}, not a directory: commit the "
                "manifests in the directory itself, or point --apps-dir at the real one"
            )
    return entries


def read_blobs(repo: str | Path, shas: Sequence[str]) -> dict[str, bytes]:
    """Each blob's bytes, from one ``git cat-file --batch`` (each answer is a header line
    ``SHA blob SIZE``, the bytes, and a newline): one process and one pipe round for all."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    output = run_git(
        repo, ["cat-file", "--batch"], stdin="".join(f"{s}\n" for s in wanted).encode()
    )
    contents: dict[str, bytes] = {}
    offset = 0
    while offset < len(output):
        header_end = output.index(b"\n", offset)
        parts = output[offset:header_end].decode().split()
        if len(parts) != 3 or parts[1] != "blob":
            raise SourceError(f"cannot read a manifest's blob: git answered {' '.join(parts)!r}")
        start = header_end + 1
        contents[parts[0]] = output[start : start + int(parts[2])]
        offset = start + int(parts[2]) + 1
    return contents


def build_revision(
    *,
    sha: str,
    apps_dir: str,
    entries: Sequence[ManifestEntry],
    contents: Mapping[str, bytes],
    texts: dict[str, str | None] | None = None,
) -> Revision:
    """The :class:`Revision` of *entries*, their bytes taken from *contents* (by blob id);
    entries over :data:`MAX_MANIFEST_BYTES` are recorded with their sizes, never read.

    *texts* (blob id to text, None when not UTF-8) may be shared between revisions: a blob
    found at several is decoded once, into one string, which the parse cache then matches by
    identity.
    """
    texts = {} if texts is None else texts
    files: dict[str, str] = {}
    not_utf8: set[str] = set()
    too_large: dict[str, int] = {}
    for entry in entries:
        if entry.size > MAX_MANIFEST_BYTES:
            too_large[entry.path] = entry.size
            continue
        if entry.sha not in texts:
            try:
                texts[entry.sha] = contents[entry.sha].decode("utf-8")
            except UnicodeDecodeError:
                texts[entry.sha] = None
        text = texts[entry.sha]
        if text is None:
            files[entry.path] = ""
            not_utf8.add(entry.path)
        else:
            files[entry.path] = text
    return Revision(
        sha=sha,
        files=files,
        apps_dir=apps_dir,
        not_utf8=frozenset(not_utf8),
        too_large=too_large,
    )


def read_trees(repo: str | Path, *, shas: Sequence[str], apps_dir: str) -> list[Revision]:
    """The manifests under *apps_dir* at each commit of *shas* (one ``ls-tree`` each, one
    ``cat-file --batch`` for all); a blob found at several of them is read once."""
    listings = [list_manifests(repo, sha=sha, apps_dir=apps_dir) for sha in shas]
    contents = read_blobs(
        repo,
        [e.sha for entries in listings for e in entries if e.size <= MAX_MANIFEST_BYTES],
    )
    texts: dict[str, str | None] = {}
    return [
        build_revision(sha=sha, apps_dir=apps_dir, entries=entries, contents=contents, texts=texts)
        for sha, entries in zip(shas, listings, strict=True)
    ]


def read_revisions(
    repo: str | Path,
    *,
    revs: Sequence[str | None],
    branch: str = DEFAULT_BRANCH,
    apps_dir: str = DEFAULT_APPS_DIR,
) -> list[Revision]:
    """Each of *revs* (None: the tip of *branch*) as a :class:`Revision`, read from Git
    objects with four processes for two revisions."""
    return read_trees(repo, shas=resolve_commits(repo, revs, branch=branch), apps_dir=apps_dir)
