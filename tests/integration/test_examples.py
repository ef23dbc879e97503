"""Every example repo under examples/ validates, plans and applies on the real engine."""

from __future__ import annotations

import shutil
from pathlib import Path

import docker
import pytest

from gitberth.core.manifests import load_manifests
from gitberth.reconciler import reconcile_once
from gitberth.runtime.docker import DockerRuntime
from gitberth.source import open_repo, read_revision
from tests.support.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_REPOS = sorted(p.parent for p in (ROOT / "examples").glob("*/apps"))


def test_there_are_examples() -> None:
    assert EXAMPLE_REPOS, "examples/<name>/apps/ should hold at least one example repo"


@pytest.mark.parametrize("example", EXAMPLE_REPOS, ids=lambda p: p.name)
def test_example_manifests_validate(example: Path) -> None:
    files = {
        str(path.relative_to(example)): path.read_text() for path in example.glob("apps/*.y*ml")
    }
    loaded = load_manifests(files)
    assert loaded.problems == {}
    assert set(loaded.apps)


@pytest.mark.docker
@pytest.mark.parametrize("example", EXAMPLE_REPOS, ids=lambda p: p.name)
def test_example_applies_and_a_second_apply_is_a_noop(
    example: Path, tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    shutil.copytree(example, tmp_path / "repo")
    repo = GitRepo(tmp_path / "repo")
    repo.repo.git.add(A=True)
    repo.repo.index.commit("example")
    revision = read_revision(open_repo(repo.path))

    first = reconcile_once(revision=revision, runtime=DockerRuntime(grace_seconds=2))
    assert first.ok, {name: r.message for name, r in first.apps.items()}
    second = reconcile_once(revision=revision, runtime=DockerRuntime(grace_seconds=2))
    assert second.plan.is_noop
