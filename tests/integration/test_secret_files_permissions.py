"""Secret files are private to gitberth and to the container that mounts them.

The root is forced to 0700 and must be gitberth's own; each container's directory is 0500 and
each file 0400, owned by the container's numeric user when it has one. Run on the real
RAM-backed secrets root, and (for the non-root reader) in a real container.
"""

from __future__ import annotations

import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from pydantic import SecretStr

from gitberth.core.errors import ConfigError
from gitberth.core.resolved import EnvSource, Origin, ResolvedValue
from gitberth.reconciler import reconcile_once
from gitberth.runtime.docker import DockerRuntime
from gitberth.runtime.secret_files import SecretFilesRoot, numeric_owner
from gitberth.source import open_repo, read_revision
from tests.support.engine import EXAMPLE_IMAGE, TEST_LABEL
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.secretstore import open_store

SECRETS_ROOT = Path("/run/gitberth/secrets")
SENTINEL = "sentinel-permissions-5f0e-do-not-leak"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def value(text: str) -> ResolvedValue:
    return ResolvedValue(
        value=SecretStr(text),
        origin=Origin(source=EnvSource.SECRET, secret="tls"),
        fingerprint="f" * 64,
    )


@pytest.fixture
def root_path() -> Iterator[Path]:
    path = SECRETS_ROOT / f"perm-{uuid.uuid4().hex[:8]}"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_new_root_is_created_0700(root_path: Path) -> None:
    SecretFilesRoot(root_path).check()
    assert mode(root_path) == 0o700


def test_an_existing_open_root_is_tightened_to_0700(root_path: Path) -> None:
    root_path.mkdir(mode=0o755)
    os.chmod(root_path, 0o755)
    SecretFilesRoot(root_path).check()
    assert mode(root_path) == 0o700


def test_a_root_owned_by_another_user_is_refused(root_path: Path) -> None:
    root_path.mkdir(mode=0o700)
    os.chown(root_path, 4321, 4321)
    with pytest.raises(ConfigError) as caught:
        SecretFilesRoot(root_path).check()
    assert "uid 4321" in str(caught.value) and "--secrets-dir" in str(caught.value)


def test_a_symlinked_root_is_refused(root_path: Path, tmp_path: Path) -> None:
    target = SECRETS_ROOT / f"perm-target-{uuid.uuid4().hex[:8]}"
    target.mkdir(mode=0o700)
    try:
        root_path.symlink_to(target)
        with pytest.raises(ConfigError, match="not a plain directory"):
            SecretFilesRoot(root_path).check()
    finally:
        root_path.unlink()
        shutil.rmtree(target, ignore_errors=True)


def test_container_directories_are_0500_and_files_0400(root_path: Path) -> None:
    files = SecretFilesRoot(root_path)
    directory = files.write(container_name="web-1", files={"TLS_KEY": value(SENTINEL)})
    assert mode(directory) == 0o500
    assert mode(directory / "TLS_KEY") == 0o400
    assert os.stat(directory / "TLS_KEY").st_uid == os.geteuid()
    files.remove(directory)
    assert not directory.exists()


def test_files_of_a_container_with_a_numeric_user_belong_to_that_user(root_path: Path) -> None:
    files = SecretFilesRoot(root_path)
    directory = files.write(
        container_name="web-1", files={"TLS_KEY": value(SENTINEL)}, user="1234:2345"
    )
    info = os.stat(directory / "TLS_KEY")
    assert (info.st_uid, info.st_gid) == (1234, 2345)
    assert (os.stat(directory).st_uid, os.stat(directory).st_gid) == (1234, 2345)
    assert files.sweep(in_use=[]) == [directory]
    assert not directory.exists()


def test_a_sweep_removes_only_its_own_sources_directories(root_path: Path) -> None:
    """Two gitberth instances sharing one root (another repository, or another engine) never
    sweep each other's files: each sees only its own containers. A directory from before names
    carried a source is an orphan to everyone."""
    ours_id, theirs_id = "a1b2c3d4e5f60718", "0123456789abcdef"
    files = SecretFilesRoot(root_path)
    ours = files.write(container_name="web-1", files={"K": value(SENTINEL)}, source=ours_id)
    theirs = files.write(container_name="web-1", files={"K": value(SENTINEL)}, source=theirs_id)
    half_written = root_path / f"..staging-{theirs_id}.0123"
    half_written.mkdir()
    legacy = root_path / "web-2.0123456789ab"
    legacy.mkdir()
    assert ours.name.startswith(f"{ours_id}.web-1.")
    assert sorted(files.sweep(in_use=[], source=ours_id)) == sorted([ours, legacy])
    assert theirs.exists() and half_written.exists()
    assert sorted(files.sweep(in_use=[], source=theirs_id)) == sorted([theirs, half_written])


@pytest.mark.parametrize("user", ["app", "www-data:www-data"])
def test_a_named_user_gets_files_any_user_of_its_container_can_read(
    root_path: Path, user: str
) -> None:
    files = SecretFilesRoot(root_path)
    directory = files.write(container_name="web-1", files={"TLS_KEY": value(SENTINEL)}, user=user)
    assert (mode(directory), mode(directory / "TLS_KEY")) == (0o555, 0o444)
    assert mode(root_path) == 0o700, "host users still cannot reach them"


@pytest.mark.parametrize("user", [None, "", "root", "0", "0:0"])
def test_root_gets_owner_only_files(root_path: Path, user: str | None) -> None:
    files = SecretFilesRoot(root_path)
    directory = files.write(container_name="web-1", files={"TLS_KEY": value(SENTINEL)}, user=user)
    assert (mode(directory), mode(directory / "TLS_KEY")) == (0o500, 0o400)
    assert os.stat(directory / "TLS_KEY").st_uid == os.geteuid()


@pytest.mark.parametrize(
    ("user", "owner"),
    [
        (None, None),
        ("1000", (1000, 1000)),
        ("1000:50", (1000, 50)),
        ("nobody", None),
        ("1000:staff", None),
        ("", None),
    ],
)
def test_numeric_owner(user: str | None, owner: tuple[int, int] | None) -> None:
    assert numeric_owner(user) == owner


@pytest.mark.docker
def test_a_non_root_container_reads_its_own_files_and_another_user_cannot(
    root_path: Path, docker_client: docker.DockerClient
) -> None:
    files = SecretFilesRoot(root_path)
    directory = files.write(
        container_name="reader-1", files={"TLS_KEY": value(SENTINEL)}, user="1000:1000"
    )

    def read_as(user: str) -> tuple[int, bytes]:
        container = docker_client.containers.run(
            EXAMPLE_IMAGE,
            ["sh", "-c", "cat /run/secrets/TLS_KEY"],
            user=user,
            volumes={str(directory): {"bind": "/run/secrets", "mode": "ro"}},
            labels={TEST_LABEL: "permissions"},
            detach=True,
        )
        try:
            code = container.wait(timeout=30)["StatusCode"]
            return int(code), bytes(container.logs())
        finally:
            container.remove(force=True)

    assert read_as("1000:1000") == (0, SENTINEL.encode())
    code, output = read_as("1001:1001")
    assert code != 0 and SENTINEL.encode() not in output


@pytest.mark.docker
def test_an_image_running_as_a_numeric_user_reads_its_secret_files(
    git_repo: GitRepo, tmp_path: Path, clean_engine: docker.DockerClient, root_path: Path
) -> None:
    base = clean_engine.containers.create(EXAMPLE_IMAGE, labels={TEST_LABEL: "permissions"})
    try:
        base.commit(repository="gitberth-test/user1000", tag="1", changes=["USER 1000:1000"])
    finally:
        base.remove(force=True)
    store, _ = open_store(tmp_path / "state")
    store.put(name="tls", app_id=None, data={"TLS_KEY": SENTINEL})
    git_repo.commit(
        {
            "apps/reader.yaml": app_yaml(
                "reader",
                image="gitberth-test/user1000:1",
                port=None,
                extra="secretFiles: [tls]\n"
                "command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']\n",
            )
        }
    )
    files = SecretFilesRoot(root_path)
    result = reconcile_once(
        revision=read_revision(open_repo(git_repo.path)),
        runtime=DockerRuntime(source="tests", grace_seconds=1, secret_files=files),
        secrets=store,
    )
    assert result.ok, result.apps["reader"].message
    container = clean_engine.containers.get("reader-1")
    code, output = container.exec_run(["cat", "/run/secrets/TLS_KEY"])
    assert (code, output.decode()) == (0, SENTINEL)
    code, _ = container.exec_run(["cat", "/run/secrets/TLS_KEY"], user="1001")
    assert code != 0, "another user of the container cannot read it"
