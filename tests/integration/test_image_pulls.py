"""Images are pulled from a real registry on 127.0.0.1 with the credentials of an
imagePullSecret, which reach only the engine's pull call; a failed pull holds only its app."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from gitberth.core.sync_status import ErrorClass, SyncState
from gitberth.database import Database
from gitberth.loop import Loop, LoopSettings
from gitberth.reconciler import AppStatus, ReconcileResult, reconcile_once
from gitberth.runtime.docker import DockerRuntime
from gitberth.secrets.store import SecretStore
from gitberth.source import open_repo, read_revision
from gitberth.spec_ledger import SpecLedger
from gitberth.status import StatusStore
from tests.support.engine import EXAMPLE_IMAGE
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.registry import Registry, running_registry
from tests.support.secretstore import open_store
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

PASSWORD = f"pw-sentinel-{uuid.uuid4().hex}"
WRONG_PASSWORD = f"wrong-sentinel-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(
        tmp_path_factory.mktemp("registry"), username="deployer", password=PASSWORD
    ) as running:
        yield running


@pytest.fixture
def state(tmp_path: Path) -> Iterator[tuple[SecretStore, SpecLedger, Path]]:
    store, db = open_store(tmp_path / "state")
    DATABASES[id(store)] = db
    yield store, SpecLedger(db), tmp_path / "state"
    DATABASES.pop(id(store), None)


DATABASES: dict[int, Database] = {}


def apply(repo: GitRepo, store: SecretStore, ledger: SpecLedger) -> ReconcileResult:
    return reconcile_once(
        revision=read_revision(open_repo(repo.path)),
        runtime=DockerRuntime(source="tests", grace_seconds=1),
        secrets=store,
        known_specs=ledger,
        workers=4,
    )


def pulled_app(name: str, image: str, *, secret: str = "regcred", extra: str = "") -> str:
    return app_yaml(name, image=image, extra=f"imagePullSecret: {secret}\n{extra}")


def test_an_image_is_pulled_with_the_apps_credentials_and_never_shown(
    registry: Registry,
    clean_engine: docker.DockerClient,
    git_repo: GitRepo,
    state: tuple[SecretStore, SpecLedger, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, ledger, state_dir = state
    caplog.set_level(logging.DEBUG)
    image = f"{registry.host}/team/web:1.0"
    registry.push(clean_engine, source=EXAMPLE_IMAGE, repository="team/web", tag="1.0")
    # The app-scoped secret beats the shared one (whose password is wrong), as everywhere.
    store.put(
        name="regcred", app_id=None, data={"USERNAME": "deployer", "PASSWORD": WRONG_PASSWORD}
    )
    store.put(name="regcred", app_id="private", data={"USERNAME": "deployer", "PASSWORD": PASSWORD})
    git_repo.commit({"apps/private.yaml": pulled_app("private", image)})

    result = apply(git_repo, store, ledger)

    assert result.apps["private"].status is AppStatus.APPLIED, result.apps["private"].message
    container = clean_engine.containers.get("private-1")
    assert container.status == "running"
    assert container.attrs["Config"]["Image"] == image
    shown = [
        json.dumps(container.attrs),
        caplog.text,
        repr(result),
        "\n".join(a.describe() for a in result.plan.actions),
        (state_dir / "gitberth.db").read_bytes().decode("latin-1"),
    ]
    assert not any(PASSWORD in text or WRONG_PASSWORD in text for text in shown)


def test_a_wrong_password_fails_only_that_app_and_keeps_its_container(
    registry: Registry,
    clean_engine: docker.DockerClient,
    git_repo: GitRepo,
    state: tuple[SecretStore, SpecLedger, Path],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, ledger, _ = state
    caplog.set_level(logging.DEBUG)
    registry.push(clean_engine, source=EXAMPLE_IMAGE, repository="team/api", tag="1.0")
    registry.push(clean_engine, source=EXAMPLE_IMAGE, repository="team/api", tag="1.1")
    store.put(name="regcred", app_id=None, data={"USERNAME": "deployer", "PASSWORD": PASSWORD})
    git_repo.commit(
        {
            "apps/api.yaml": pulled_app("api", f"{registry.host}/team/api:1.0"),
            "apps/local.yaml": app_yaml("local"),
        }
    )
    assert apply(git_repo, store, ledger).ok
    before = clean_engine.containers.get("api-1").id

    store.put(
        name="regcred", app_id=None, data={"USERNAME": "deployer", "PASSWORD": WRONG_PASSWORD}
    )
    git_repo.commit(
        {
            "apps/api.yaml": pulled_app("api", f"{registry.host}/team/api:1.1"),
            "apps/local.yaml": app_yaml("local", env={"V": "2"}),
        }
    )
    result = apply(git_repo, store, ledger)

    report = result.apps["api"]
    assert report.status is AppStatus.FAILED
    assert report.code == "image_pull_failed"
    assert "unauthorized" in report.message or "authentication required" in report.message
    assert result.apps["local"].status is AppStatus.APPLIED
    kept = clean_engine.containers.get("api-1")
    assert kept.id == before and kept.status == "running"
    assert kept.attrs["Config"]["Image"].endswith("team/api:1.0")
    assert WRONG_PASSWORD not in report.message + caplog.text
    assert PASSWORD not in report.message + caplog.text


def test_a_missing_tag_and_a_registry_that_is_down_fail_with_the_reason(
    registry: Registry,
    clean_engine: docker.DockerClient,
    git_repo: GitRepo,
    state: tuple[SecretStore, SpecLedger, Path],
) -> None:
    store, ledger, _ = state
    store.put(name="regcred", app_id=None, data={"USERNAME": "deployer", "PASSWORD": PASSWORD})
    git_repo.commit(
        {
            "apps/typo.yaml": pulled_app("typo", f"{registry.host}/team/nothing:9"),
            "apps/down.yaml": app_yaml("down", image="127.0.0.1:9/team/web:1.0"),
        }
    )
    result = apply(git_repo, store, ledger)

    assert result.apps["typo"].code == "image_pull_failed"
    assert "not found" in result.apps["typo"].message or "unknown" in result.apps["typo"].message
    assert result.apps["down"].code == "image_pull_failed"
    assert "127.0.0.1:9" in result.apps["down"].message
    assert clean_engine.api.containers(all=True, filters={"label": "gitberth.app"}) == []


def test_a_digest_is_honoured_and_pull_always_fetches_the_registrys_image(
    registry: Registry,
    clean_engine: docker.DockerClient,
    git_repo: GitRepo,
    state: tuple[SecretStore, SpecLedger, Path],
) -> None:
    store, ledger, _ = state
    store.put(
        name="regcred",
        app_id=None,
        data={"USERNAME": "deployer", "PASSWORD": PASSWORD, "REGISTRY": registry.host},
    )
    digest = registry.push(clean_engine, source=EXAMPLE_IMAGE, repository="team/pinned", tag="1")
    # A local image under the same tag that differs from the registry's: `always` replaces it.
    local, _ = clean_engine.images.build(
        fileobj=_dockerfile(f"FROM {EXAMPLE_IMAGE}\nLABEL variant=local\n"), rm=True
    )
    local.tag(f"{registry.host}/team/pinned", "1")
    git_repo.commit(
        {
            "apps/pinned.yaml": pulled_app("pinned", digest),
            "apps/fresh.yaml": pulled_app(
                "fresh", f"{registry.host}/team/pinned:1", extra="pull: always\n"
            ),
        }
    )
    result = apply(git_repo, store, ledger)

    assert result.ok, {name: r.message for name, r in result.apps.items()}
    assert clean_engine.containers.get("pinned-1").attrs["Config"]["Image"] == digest
    fresh = clean_engine.containers.get("fresh-1")
    assert fresh.image.id != local.id
    assert fresh.image.id == clean_engine.images.get(digest).id


def _dockerfile(text: str) -> object:
    import io

    return io.BytesIO(text.encode())


def test_the_loop_reports_the_failed_pull_and_retries_at_once_when_the_secret_is_fixed(
    registry: Registry,
    clean_engine: docker.DockerClient,
    git_repo: GitRepo,
    state: tuple[SecretStore, SpecLedger, Path],
) -> None:
    store, ledger, state_dir = state
    registry.push(clean_engine, source=EXAMPLE_IMAGE, repository="team/loop", tag="1")
    store.put(
        name="regcred", app_id=None, data={"USERNAME": "deployer", "PASSWORD": WRONG_PASSWORD}
    )
    git_repo.commit({"apps/looped.yaml": pulled_app("looped", f"{registry.host}/team/loop:1")})
    status = StatusStore(DATABASES[id(store)])
    loop = Loop(
        settings=LoopSettings(
            repo=str(git_repo.path), state_dir=state_dir, app_backoff_base=600.0, watch=False
        ),
        runtime=DockerRuntime(source="tests", grace_seconds=1),
        status=status,
        secrets=store,
        known_specs=ledger,
    )
    loop.start()
    try:
        failed = wait_until(lambda: (s := status.app("looped")) and s.error and s)
        assert failed.error is not None and failed.error.code == "image_pull_failed"
        assert failed.error.kind is ErrorClass.WAITING

        store.put(name="regcred", app_id=None, data={"USERNAME": "deployer", "PASSWORD": PASSWORD})
        loop.secrets_changed("regcred", None)  # what POST /secrets does; the backoff is 600 s
        wait_until(lambda: (s := status.app("looped")) and s.sync is SyncState.SYNCED)
    finally:
        loop.stop(timeout=20)
    assert clean_engine.containers.get("looped-1").status == "running"
    stored = (state_dir / "gitberth.db").read_bytes() + (state_dir / "gitberth.db-wal").read_bytes()
    assert PASSWORD.encode() not in stored and WRONG_PASSWORD.encode() not in stored
