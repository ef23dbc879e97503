"""Docker events drive the loop: a container stopped or removed by hand is repaired within about
a second, status never claims what the engine denies, and secret files go with their container."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from gitberth.core.sync_status import SyncState
from gitberth.loop import Loop, LoopSettings
from gitberth.runtime.docker import DockerRuntime
from gitberth.runtime.secret_files import SecretFilesRoot
from gitberth.status import StatusStore
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.secretstore import open_store
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

SECRETS_ROOT = Path("/run/gitberth/secrets")
HEAL_SECONDS = 3.0
"""Self-heal must start about a second after the event; the periodic resync is 30 s away."""


@pytest.fixture
def files_root() -> Iterator[SecretFilesRoot]:
    root = SecretFilesRoot(SECRETS_ROOT / f"test-{uuid.uuid4().hex[:8]}")
    root.check()
    yield root
    shutil.rmtree(root.root, ignore_errors=True)


@pytest.fixture
def loop(
    git_repo: GitRepo,
    tmp_path: Path,
    files_root: SecretFilesRoot,
    clean_engine: docker.DockerClient,
) -> Iterator[Loop]:
    store, db = open_store(tmp_path / "state")
    store.put(name="tls", app_id=None, data={"TLS_KEY": "sentinel-key"})
    built = Loop(
        settings=LoopSettings(
            repo=str(git_repo.path), state_dir=tmp_path / "state", interval=30.0, watch=True
        ),
        runtime=DockerRuntime(source="tests", grace_seconds=1, secret_files=files_root),
        status=StatusStore(db),
        secrets=store,
    )
    yield built
    built.stop(timeout=20)
    db.close()


def state_of(client: docker.DockerClient, name: str) -> tuple[str, str] | None:
    rows = client.api.containers(all=True, filters={"name": f"^/{name}$"})
    return (str(rows[0]["Id"]), str(rows[0]["State"])) if rows else None


def test_a_container_stopped_by_hand_is_restarted_within_about_a_second(
    git_repo: GitRepo, loop: Loop, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    loop.start()
    first = wait_until(lambda: (s := state_of(clean_engine, "web-1")) and s[1] == "running" and s)

    clean_engine.api.stop(first[0], timeout=5)  # exits 0: `docker stop`

    healed = wait_until(
        lambda: (s := state_of(clean_engine, "web-1")) and s[1] == "running" and s,
        timeout=HEAL_SECONDS,
    )
    assert healed[0] != first[0]
    wait_until(lambda: (a := loop.status.app("web")) is not None and a.sync is SyncState.SYNCED)


def test_status_says_a_container_stopped_while_the_loop_is_busy_is_not_running(
    git_repo: GitRepo, loop: Loop, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    loop.start()
    wait_until(lambda: (a := loop.status.app("web")) is not None and a.sync is SyncState.SYNCED)
    container = state_of(clean_engine, "web-1")
    assert container is not None

    with loop.lock:  # a long rollout of another app holds the loop
        clean_engine.api.stop(container[0], timeout=5)
        stale = wait_until(
            lambda: (a := loop.status.app("web")) and a.containers[0].state != "running" and a
        )
        assert (stale.sync, stale.health.value) == (SyncState.OUT_OF_SYNC, "Unhealthy")

    wait_until(
        lambda: (
            (a := loop.status.app("web")) is not None
            and a.sync is SyncState.SYNCED
            and a.containers[0].state == "running"
        ),
        timeout=10,
    )


def test_the_secret_files_of_a_container_removed_by_hand_are_deleted_at_once(
    git_repo: GitRepo, loop: Loop, files_root: SecretFilesRoot, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web", extra="secretFiles: [tls]\n")})
    loop.start()
    first = wait_until(lambda: (s := state_of(clean_engine, "web-1")) and s[1] == "running" and s)
    [directory] = list(files_root.root.iterdir())
    assert (directory / "TLS_KEY").read_text() == "sentinel-key"

    clean_engine.api.remove_container(first[0], force=True)  # `docker rm -f`

    wait_until(lambda: not directory.exists(), timeout=HEAL_SECONDS)
    replacement = wait_until(
        lambda: (s := state_of(clean_engine, "web-1")) and s[1] == "running" and s
    )
    assert replacement[0] != first[0]
    assert [d for d in files_root.root.iterdir()] != [directory]
