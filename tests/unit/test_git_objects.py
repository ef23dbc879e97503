"""Reading revisions with Git's plumbing (``plan --base --head`` and the loop): the same files,
sizes and refusals as the GitPython reader it replaced, on real repositories."""

from __future__ import annotations

import os
import re
from pathlib import Path

import git
import pytest

from gitberth.core.errors import SourceError
from gitberth.core.manifests import MAX_MANIFEST_BYTES
from gitberth.git_objects import read_revisions, resolve_commits
from gitberth.source import open_repo, read_revision
from tests.support.gitrepo import GitRepo, app_yaml


def both(repo: GitRepo, **kwargs: str) -> list[dict[str, str]]:
    """The files of main and feature as the review reads them."""
    revisions = read_revisions(repo.path, revs=["main", "feature"], branch="main", **kwargs)
    return [revision.files for revision in revisions]


def test_both_revisions_read_every_manifest_and_nothing_else(git_repo: GitRepo) -> None:
    base = git_repo.commit(
        {
            "apps/a.yaml": app_yaml("a"),
            "apps/b.yml": app_yaml("b"),
            "apps/notes.txt": "not a manifest\n",
            "apps/sub/c.yaml": app_yaml("c"),
            "README.md": "docs\n",
        }
    )
    git_repo.repo.git.checkout("-b", "feature")
    head = git_repo.commit({"apps/a.yaml": app_yaml("a", port=9090)}, remove=("apps/b.yml",))

    main, feature = read_revisions(git_repo.path, revs=["main", None], branch="feature")

    assert (main.sha, feature.sha) == (base, head)
    assert main.files == {"apps/a.yaml": app_yaml("a"), "apps/b.yml": app_yaml("b")}
    assert feature.files == {"apps/a.yaml": app_yaml("a", port=9090)}
    # The same as the loop's reader (GitPython resolves, the plumbing lists and reads).
    assert read_revision(open_repo(git_repo.path), rev=base).files == main.files


def test_a_blob_at_both_revisions_is_read_once_into_one_string(git_repo: GitRepo) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a"), "apps/b.yaml": app_yaml("b")})
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit({"apps/b.yaml": app_yaml("b", port=9090)})

    main, feature = both(git_repo)

    assert main["apps/a.yaml"] is feature["apps/a.yaml"]  # the parse cache hits by identity
    assert main["apps/b.yaml"] != feature["apps/b.yaml"]


def test_a_nested_apps_dir_is_listed_from_the_root(git_repo: GitRepo) -> None:
    git_repo.commit({"deploy/apps/a.yaml": app_yaml("a"), "apps/b.yaml": app_yaml("b")})
    git_repo.repo.git.branch("feature")

    main, _ = both(git_repo, apps_dir="deploy/apps/")

    assert main == {"deploy/apps/a.yaml": app_yaml("a")}


def test_a_missing_apps_dir_is_no_manifests(git_repo: GitRepo) -> None:
    git_repo.commit({"README.md": "docs\n"})
    git_repo.repo.git.branch("feature")

    assert both(git_repo) == [{}, {}]


@pytest.mark.parametrize(("kind", "make"), [("a symbolic link", "link"), ("a file", "file")])
def test_an_apps_dir_that_is_not_a_directory_is_refused(
    git_repo: GitRepo, kind: str, make: str
) -> None:
    git_repo.commit({"real/a.yaml": app_yaml("a")})
    if make == "link":
        os.symlink("real", git_repo.path / "apps")
    else:
        (git_repo.path / "apps").write_text("not a directory\n")
    git_repo.repo.git.add("apps")
    git_repo.repo.index.commit("apps is not a directory")
    git_repo.repo.git.branch("feature")

    with pytest.raises(SourceError, match=f"^apps is {kind} in Git at [0-9a-f]{{12}}, not a dir"):
        both(git_repo)


def test_an_oversized_manifest_is_sized_never_read_and_non_utf8_is_flagged(
    git_repo: GitRepo,
) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a")})
    (git_repo.path / "apps" / "big.yaml").write_text("#" * (MAX_MANIFEST_BYTES + 1))
    (git_repo.path / "apps" / "latin.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    git_repo.repo.git.add(A=True)
    git_repo.repo.index.commit("odd files")
    git_repo.repo.git.branch("feature")

    main, _ = read_revisions(
        git_repo.path, revs=["main", "feature"], branch="main", apps_dir="apps"
    )

    assert main.too_large == {"apps/big.yaml": MAX_MANIFEST_BYTES + 1}
    assert "apps/big.yaml" not in main.files
    assert main.not_utf8 == frozenset({"apps/latin.yaml"})
    assert main.files["apps/latin.yaml"] == ""


@pytest.mark.parametrize("rev", ["no-such-branch", "--all", "main..main", "main\nmain"])
def test_an_unknown_revision_is_named_and_never_read_as_an_option(
    git_repo: GitRepo, rev: str
) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a")})

    with pytest.raises(SourceError, match=re.escape(f"revision {rev!r} not found in ")):
        resolve_commits(git_repo.path, ["main", rev])
    with pytest.raises(SourceError, match="^branch 'prod' not found in "):
        resolve_commits(git_repo.path, [None], branch="prod")


def test_a_folder_inside_a_repository_is_not_a_repository(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a")})

    for path in (git_repo.path / "apps", tmp_path / "nowhere"):
        with pytest.raises(SourceError, match=f"^{re.escape(str(path))} is not a Git repository$"):
            resolve_commits(path, ["main"])
        with pytest.raises((git.InvalidGitRepositoryError, git.NoSuchPathError)):
            git.Repo(path)  # what the loop's reader says of it too
