"""The source id: the same repository, branch and apps dir always give the same label value,
however they are spelt; anything else gives another one; credentials never enter it."""

from __future__ import annotations

from pathlib import Path

from gitberth.core.observed import ContainerState, ObservedContainer
from gitberth.core.ownership import LABEL_SOURCE, partition
from gitberth.source_id import canonical_repository, source_id


def test_spellings_of_one_repository_are_one_source(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (tmp_path / "link").symlink_to(repo)
    ids = {
        source_id(str(repo), branch="main", apps_dir="apps"),
        source_id(str(tmp_path / "link"), branch="main", apps_dir="/apps/"),
        source_id(f"file://{repo}", branch="main", apps_dir="apps"),
    }
    assert len(ids) == 1
    assert len(ids.pop()) == 16


def test_url_credentials_case_and_suffixes_do_not_matter() -> None:
    assert canonical_repository("https://user:pw@GitHub.com/acme/deploys.git/") == (
        "https://github.com/acme/deploys"
    )
    assert canonical_repository("git@github.com:acme/deploys.git") == "github.com:acme/deploys"
    assert source_id("https://u:secret@h/r.git", branch="main", apps_dir="apps") == source_id(
        "https://h/r", branch="main", apps_dir="apps"
    )


def test_another_branch_or_apps_dir_is_another_source() -> None:
    base = source_id("https://h/r", branch="main", apps_dir="apps")
    assert source_id("https://h/r", branch="prod", apps_dir="apps") != base
    assert source_id("https://h/r", branch="main", apps_dir="other") != base


def container(app: str, source: str | None) -> ObservedContainer:
    labels = {LABEL_SOURCE: source} if source is not None else {}
    return ObservedContainer(
        f"id-{app}", f"{app}-1", app, app, "h", "r", ContainerState.RUNNING, labels=labels
    )


def test_partition_adopts_unlabelled_containers_only_for_declared_apps() -> None:
    ownership = partition(
        [container("mine", "me"), container("old", None), container("theirs", "them"),
         container("stray", None)],
        source="me",
        apps={"mine", "old"},
    )  # fmt: skip
    assert [c.app for c in ownership.own] == ["mine", "old"]
    assert ownership.notes() == [
        "1 container of other sources is left alone (app theirs)",
        "1 container without a source label (made by an older gitberth) is left alone (app stray)",
    ]


def test_a_review_against_a_server_says_what_the_servers_engine_leaves_alone() -> None:
    import httpx

    from gitberth.cli.review_server import _running
    from gitberth.core.manifests import load_manifests

    note = "1 container of other sources is left alone (app blog)"
    listing = {"apps": [], "sources": [{"name": "default", "leftAlone": [note]}]}
    response = httpx.Response(200, json=listing)
    running = _running(load_manifests({}), response, [], shown="http://127.0.0.1:1")
    assert running.note.endswith(f". The server's engine: {note}")
