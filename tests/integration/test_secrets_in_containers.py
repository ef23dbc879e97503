"""Secrets reach containers as the guide promises: envFrom as env, secretFiles in RAM, with
Kubernetes precedence; a secret change replaces exactly its consumers."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from gitberth.reconciler import AppStatus, ReconcileResult, reconcile_once
from gitberth.runtime.docker import DockerRuntime
from gitberth.runtime.secret_files import SecretFilesRoot
from gitberth.secrets.seal import open_default_setup
from gitberth.secrets.store import SecretStore
from gitberth.source import open_repo, read_revision
from gitberth.spec_ledger import SpecLedger
from gitberth.state import StateDir
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.secretstore import open_store

pytestmark = pytest.mark.docker

SECRETS_ROOT = Path("/run/gitberth/secrets")
SENTINEL = "sentinel-7d1c0a9e-do-not-leak"


@pytest.fixture
def state(tmp_path: Path) -> tuple[SecretStore, SpecLedger]:
    store, db = open_store(tmp_path / "state")
    return store, SpecLedger(db)


@pytest.fixture
def store(state: tuple[SecretStore, SpecLedger]) -> SecretStore:
    return state[0]


@pytest.fixture(autouse=True)
def _ledger(state: tuple[SecretStore, SpecLedger]) -> None:
    LEDGERS[id(state[0])] = state[1]


LEDGERS: dict[int, SpecLedger] = {}


@pytest.fixture
def files_root(request: pytest.FixtureRequest) -> Iterator[SecretFilesRoot]:
    """A private directory on the RAM-backed secrets root, so tests see only their own files."""
    root = SecretFilesRoot(SECRETS_ROOT / f"test-{uuid.uuid4().hex[:8]}")
    root.check()
    yield root
    shutil.rmtree(root.root, ignore_errors=True)


def apply(repo: GitRepo, store: SecretStore | None, files_root: SecretFilesRoot) -> ReconcileResult:
    """One pass, remembering specs in the store's own state database as the CLI does."""
    return reconcile_once(
        revision=read_revision(open_repo(repo.path)),
        runtime=DockerRuntime(source="tests", grace_seconds=2, secret_files=files_root),
        secrets=store,
        known_specs=LEDGERS.get(id(store)),
    )


def env_of(client: docker.DockerClient, name: str) -> dict[str, str]:
    pairs = client.containers.get(name).attrs["Config"]["Env"]
    return dict(pair.split("=", 1) for pair in pairs)


def exec_in(client: docker.DockerClient, name: str, command: str) -> tuple[int, str]:
    code, output = client.containers.get(name).exec_run(["sh", "-c", command])
    return code, output.decode()


def ids(client: docker.DockerClient) -> dict[str, str]:
    rows = client.api.containers(all=True, filters={"label": "gitberth.app"})
    return {row["Names"][0].lstrip("/"): row["Id"] for row in rows}


def test_env_from_and_secret_files_reach_the_container(
    git_repo: GitRepo,
    store: SecretStore,
    files_root: SecretFilesRoot,
    clean_engine: docker.DockerClient,
) -> None:
    store.put(name="db-creds", app_id=None, data={"DATABASE_URL": "postgres://u:p@h/db"})
    store.put(name="tls-bundle", app_id=None, data={"TLS_CERT": "CERT", "TLS_KEY": "KEY"})
    git_repo.commit(
        {"apps/api.yaml": app_yaml("api", extra="envFrom: [db-creds]\nsecretFiles: [tls-bundle]\n")}
    )

    result = apply(git_repo, store, files_root)

    assert result.ok, result.apps["api"].message
    assert env_of(clean_engine, "api-1")["DATABASE_URL"] == "postgres://u:p@h/db"
    assert exec_in(clean_engine, "api-1", "ls /run/secrets") == (0, "TLS_CERT\nTLS_KEY\n")
    assert exec_in(clean_engine, "api-1", "cat /run/secrets/TLS_KEY") == (0, "KEY")
    code, _ = exec_in(clean_engine, "api-1", "echo x > /run/secrets/TLS_KEY")
    assert code != 0, "secret files must be read-only"
    [mount] = [
        m
        for m in clean_engine.containers.get("api-1").attrs["Mounts"]
        if m["Destination"] == "/run/secrets"
    ]
    assert mount["RW"] is False
    assert Path(mount["Source"]).parent == files_root.root
    fs_type = subprocess.run(
        ["stat", "-f", "-c", "%T", mount["Source"]], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert fs_type in {"tmpfs", "ramfs"}


def test_precedence_app_level_then_service_level_then_inline_and_scoped_beats_shared(
    git_repo: GitRepo,
    store: SecretStore,
    files_root: SecretFilesRoot,
    clean_engine: docker.DockerClient,
) -> None:
    store.put(name="first", app_id=None, data={"K": "first", "ONLY_FIRST": "1", "K2": "first"})
    store.put(name="second", app_id=None, data={"K": "second", "K2": "second", "K3": "second"})
    store.put(name="svc", app_id=None, data={"K": "svc", "K2": "svc"})
    store.put(name="scoped", app_id=None, data={"S": "shared"})
    store.put(name="scoped", app_id="shop", data={"S": "app-scoped"})
    git_repo.commit(
        {
            "apps/shop.yaml": (
                "name: shop\nenvFrom: [first, second, scoped]\nservices:\n"
                "  - name: web\n    image: gitberth/example-web:1.0\n"
                "    envFrom: [svc]\n    env: {K: inline}\n"
                "  - name: worker\n    image: gitberth/example-web:1.0\n"
            ),
            "apps/other.yaml": app_yaml("other", extra="envFrom: [scoped]\n"),
        }
    )

    assert apply(git_repo, store, files_root).ok

    web = env_of(clean_engine, "shop-web-1")
    assert (web["K"], web["K2"], web["K3"], web["ONLY_FIRST"]) == ("inline", "svc", "second", "1")
    worker = env_of(clean_engine, "shop-worker-1")
    assert (worker["K"], worker["K2"]) == ("second", "second")
    assert web["S"] == worker["S"] == "app-scoped"
    assert env_of(clean_engine, "other-1")["S"] == "shared"


def test_changing_a_secret_replaces_exactly_its_consumers(
    git_repo: GitRepo,
    store: SecretStore,
    files_root: SecretFilesRoot,
    clean_engine: docker.DockerClient,
) -> None:
    store.put(name="used", app_id=None, data={"TOKEN": "one"})
    store.put(name="files", app_id=None, data={"CERT": "one"})
    git_repo.commit(
        {
            "apps/env-user.yaml": app_yaml("env-user", extra="envFrom: [used]\n"),
            "apps/file-user.yaml": app_yaml("file-user", extra="secretFiles: [files]\n"),
            "apps/bystander.yaml": app_yaml("bystander"),
        }
    )
    apply(git_repo, store, files_root)
    before = ids(clean_engine)

    store.put(name="used", app_id=None, data={"TOKEN": "two"})
    store.put(name="files", app_id=None, data={"CERT": "two"})
    result = apply(git_repo, store, files_root)

    after = ids(clean_engine)
    assert after["bystander-1"] == before["bystander-1"]
    assert after["env-user-1"] != before["env-user-1"]
    assert after["file-user-1"] != before["file-user-1"]
    reasons = {a.container_name: a.reason for a in result.plan.changes}
    assert reasons == {
        "env-user-1": "env TOKEN changed (from secret used, shared)",
        "file-user-1": "file CERT changed (from secret files, shared)",
    }
    assert exec_in(clean_engine, "file-user-1", "cat /run/secrets/CERT") == (0, "two")
    mounted = {
        m["Source"] for name in after for m in clean_engine.containers.get(name).attrs["Mounts"]
    }
    assert {str(p) for p in files_root.root.iterdir()} <= mounted, "old secret dirs must be removed"


def test_store_rotation_replaces_nothing(
    git_repo: GitRepo,
    store: SecretStore,
    files_root: SecretFilesRoot,
    clean_engine: docker.DockerClient,
) -> None:
    store.put(name="used", app_id=None, data={"TOKEN": "one"})
    git_repo.commit({"apps/app.yaml": app_yaml("app", extra="envFrom: [used]\n")})
    apply(git_repo, store, files_root)
    store.rotate()
    assert apply(git_repo, store, files_root).plan.is_noop


def test_unknown_or_deleted_secrets_hold_the_app_and_leave_its_containers(
    git_repo: GitRepo,
    store: SecretStore,
    files_root: SecretFilesRoot,
    clean_engine: docker.DockerClient,
) -> None:
    store.put(name="used", app_id=None, data={"TOKEN": "one"})
    git_repo.commit(
        {
            "apps/app.yaml": app_yaml("app", extra="envFrom: [used]\n"),
            "apps/ghost.yaml": app_yaml("ghost", extra="envFrom: [nope, never]\n"),
        }
    )
    first = apply(git_repo, store, files_root)
    assert first.apps["ghost"].code == "unknown_secret"
    assert first.apps["ghost"].missing == ("never", "nope")
    before = ids(clean_engine)

    store.delete(name="used", app_id=None)
    result = apply(git_repo, store, files_root)

    assert result.apps["app"].status is AppStatus.BLOCKED
    assert result.apps["app"].missing == ("used",)
    assert ids(clean_engine) == before
    assert clean_engine.containers.get("app-1").status == "running"


def test_a_sealed_store_disturbs_no_running_app_and_unsealing_converges(
    git_repo: GitRepo,
    store: SecretStore,
    files_root: SecretFilesRoot,
    clean_engine: docker.DockerClient,
    tmp_path: Path,
) -> None:
    store.put(name="used", app_id=None, data={"TOKEN": "one"})
    git_repo.commit({"apps/app.yaml": app_yaml("app", extra="envFrom: [used]\n")})
    apply(git_repo, store, files_root)
    before = ids(clean_engine)
    git_repo.commit({"apps/plain.yaml": app_yaml("plain")})

    store.lock()
    sealed = apply(git_repo, store, files_root)

    assert sealed.apps["app"].code == "sealed"
    assert sealed.apps["plain"].status is AppStatus.APPLIED
    assert ids(clean_engine)["app-1"] == before["app-1"]

    open_default_setup(store, state=StateDir(tmp_path / "state"))  # unseal with the key file
    store.put(name="used", app_id=None, data={"TOKEN": "two"})
    unsealed = apply(git_repo, store, files_root)

    assert unsealed.ok
    assert env_of(clean_engine, "app-1")["TOKEN"] == "two"
    assert apply(git_repo, store, files_root).plan.is_noop


def test_a_sentinel_value_reaches_no_label_plan_commit_or_disk_outside_ram(
    git_repo: GitRepo,
    store: SecretStore,
    files_root: SecretFilesRoot,
    clean_engine: docker.DockerClient,
    tmp_path: Path,
) -> None:
    store.put(name="tls", app_id=None, data={"KEY": SENTINEL})
    git_repo.commit({"apps/app.yaml": app_yaml("app", extra="secretFiles: [tls]\n")})
    first = apply(git_repo, store, files_root)
    store.put(name="tls", app_id=None, data={"KEY": SENTINEL + "-2"})
    second = apply(git_repo, store, files_root)

    container = clean_engine.containers.get("app-1")
    assert SENTINEL not in repr(container.labels)
    assert SENTINEL not in repr(container.attrs["Config"])
    for result in (first, second):
        assert SENTINEL not in repr(result.plan)
        assert SENTINEL not in repr(result.apps)
    history = subprocess.run(
        ["git", "-C", str(git_repo.path), "log", "-p", "--all"], capture_output=True, check=True
    ).stdout
    assert SENTINEL.encode() not in history
    leaks = subprocess.run(
        ["grep", "-rl", SENTINEL, str(tmp_path)], capture_output=True, text=True
    ).stdout
    assert leaks == ""
