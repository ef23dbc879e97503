"""Committing a deploy: compare-and-swap on the ref, never over someone else's commit."""

from __future__ import annotations

import threading

from gitberth.gitwrite import Author, commit_file
from tests.support.gitrepo import GitRepo

AUTHOR = Author(name="gitberth token t1", email="t1@gitberth.invalid")


def test_a_commit_lands_on_the_branch_with_the_token_as_author(git_repo: GitRepo) -> None:
    base = git_repo.commit({"README.md": "x\n"})
    sha = commit_file(
        git_repo.repo, branch="main", path="apps/a.yaml", content="name: a\n",
        message="deploy a", author=AUTHOR,
    )  # fmt: skip
    commit = git_repo.repo.commit("main")
    assert commit.hexsha == sha
    assert commit.parents[0].hexsha == base
    assert (commit.author.name, commit.message.strip()) == (AUTHOR.name, "deploy a")


def test_the_same_content_twice_makes_no_empty_commit(git_repo: GitRepo) -> None:
    git_repo.commit({"README.md": "x\n"})
    first = commit_file(
        git_repo.repo, branch="main", path="apps/a.yaml", content="a\n", message="m", author=AUTHOR
    )
    again = commit_file(
        git_repo.repo, branch="main", path="apps/a.yaml", content="a\n", message="m", author=AUTHOR
    )
    assert first == again


def test_concurrent_deploys_all_land_and_none_is_lost(git_repo: GitRepo) -> None:
    git_repo.commit({"README.md": "x\n"})
    errors: list[BaseException] = []

    def deploy(n: int) -> None:
        try:
            commit_file(
                git_repo.repo, branch="main", path=f"apps/app{n}.yaml",
                content=f"name: app{n}\n", message=f"deploy app{n}", author=AUTHOR,
            )  # fmt: skip
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=deploy, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tree = git_repo.repo.commit("main").tree / "apps"
    assert sorted(b.name for b in tree.blobs) == [f"app{n}.yaml" for n in range(6)]
