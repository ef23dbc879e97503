"""The identity of a source: which repository, branch and apps directory a container came from.

Every container (and every network and volume) gitberth creates carries
``gitberth.source=<id>``, so that several gitberth instances on one engine never touch each
other's resources. The id is the first 16 hex digits of the SHA-256 of three lines::

    <repository>\\n<branch>\\n<apps directory>

where *repository* is, for a URL, the URL without ``user:password@``, with a lowercase scheme
and host and without a trailing ``/`` or ``.git``; and for a local path (or a ``file://`` URL),
the absolute path with symlinks resolved, so ``serve --repo ./r`` and ``apply --repo
file:///abs/r`` name the same source. The apps directory is written without leading or
trailing ``/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from gitberth.remote import is_remote, sanitize

SOURCE_ID_LENGTH = 16


def canonical_repository(repo: str) -> str:
    """The repository part of a source id (see the module docstring)."""
    if not is_remote(repo):
        return str(Path(repo).expanduser().resolve())
    parts = urlsplit(sanitize(repo))
    if parts.scheme.lower() == "file":
        return str(Path(parts.path).resolve())
    if not parts.scheme:  # scp-like ssh: git@host:org/repo.git
        text = sanitize(repo)
        text = text.split("@", 1)[1] if "@" in text.split(":", 1)[0] else text
        return _strip_suffixes(text)
    netloc = parts.netloc.rsplit("@", 1)[-1].lower()
    return _strip_suffixes(urlunsplit((parts.scheme.lower(), netloc, parts.path, "", "")))


def _strip_suffixes(text: str) -> str:
    text = text.rstrip("/")
    return text[: -len(".git")] if text.endswith(".git") else text


def source_id(repo: str, *, branch: str, apps_dir: str) -> str:
    """The value of the ``gitberth.source`` label for this repository, branch and apps dir."""
    identity = "\n".join((canonical_repository(repo), branch, apps_dir.strip("/")))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:SOURCE_ID_LENGTH]
