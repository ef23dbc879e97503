"""A real Git repository in a temp dir, with a one-call commit helper."""

from __future__ import annotations

from pathlib import Path

import git


class GitRepo:
    """A working repository on branch ``main`` whose commits tests control."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = git.Repo.init(path, initial_branch="main")
        with self.repo.config_writer() as config:
            config.set_value("user", "name", "gitberth tests")
            config.set_value("user", "email", "tests@gitberth.invalid")
            config.set_value("commit", "gpgsign", "false")

    def write(self, relative: str, text: str) -> Path:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def commit(
        self,
        files: dict[str, str] | None = None,
        *,
        remove: tuple[str, ...] = (),
        message: str = "change",
    ) -> str:
        """Write *files*, delete *remove*, commit everything; return the new sha."""
        for relative, text in (files or {}).items():
            self.write(relative, text)
            self.repo.index.add([relative])
        for relative in remove:
            self.repo.index.remove([relative], working_tree=True)
        commit = self.repo.index.commit(message)
        return str(commit.hexsha)


def app_yaml(
    name: str,
    *,
    image: str = "gitberth/example-web:1.0",
    port: int | None = 8080,
    env: dict[str, str] | None = None,
    replicas: int | None = None,
    extra: str = "",
) -> str:
    """A single-service manifest as a user would write it."""
    lines = [f"name: {name}", f"image: {image}"]
    if port is not None:
        lines.append(f"port: {port}")
    if replicas is not None:
        lines.append(f"replicas: {replicas}")
    if env:
        lines.append("env:")
        lines.extend(f"  {k}: {v!r}" for k, v in env.items())
    return "\n".join(lines) + "\n" + extra


def read_only_remote(path: Path) -> git.Repo:
    """A bare remote whose pre-receive hook declines every push (as a protected branch does)."""
    remote = git.Repo.init(path, bare=True, initial_branch="main")
    hook = path / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected: open a merge request' >&2\nexit 1\n")
    hook.chmod(0o755)
    return remote
