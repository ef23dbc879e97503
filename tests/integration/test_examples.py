"""Every example repo under examples/ validates, plans and applies on the real engine."""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

import docker
import httpx
import pytest

from gitberth.core.manifests import load_manifests
from gitberth.defaults import DEFAULT_SECRETS_ROOT
from gitberth.reconciler import reconcile_once
from gitberth.runtime.docker import DockerRuntime
from gitberth.runtime.secret_files import SecretFilesRoot
from gitberth.secrets.store import SecretStore
from gitberth.source import open_repo, read_revision
from tests.support.engine import remove_managed_and_test_containers
from tests.support.gitrepo import GitRepo
from tests.support.secretstore import open_store

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


def seeded_store(example: Path, state_dir: Path) -> SecretStore | None:
    """A real store holding fresh random values for the secrets the example lists by name in
    ``secrets.keys.json`` (examples keep names only: values never go into Git)."""
    listing = example / "secrets.keys.json"
    if not listing.exists():
        return None
    store, _ = open_store(state_dir)
    for name, spec in json.loads(listing.read_text()).items():
        data = {key: secrets.token_hex(16) for key in spec["keys"]}
        store.put(name=name, app_id=spec["appId"], data=data)
    return store


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
    store = seeded_store(example, tmp_path / "state")
    files = SecretFilesRoot(DEFAULT_SECRETS_ROOT / f"example-{tmp_path.name}")

    def runtime() -> DockerRuntime:
        return DockerRuntime(source="tests", grace_seconds=2, secret_files=files)

    try:
        first = reconcile_once(revision=revision, runtime=runtime(), secrets=store)
        assert first.ok, {name: r.message for name, r in first.apps.items()}
        second = reconcile_once(revision=revision, runtime=runtime(), secrets=store)
        assert second.plan.is_noop
    finally:
        remove_managed_and_test_containers(clean_engine)
        shutil.rmtree(files.root, ignore_errors=True)


@pytest.mark.docker
def test_the_shop_example_gets_env_everywhere_and_tls_files_on_the_web_tier_only(
    tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    example = ROOT / "examples" / "shop"
    shutil.copytree(example, tmp_path / "repo")
    repo = GitRepo(tmp_path / "repo")
    repo.repo.git.add(A=True)
    repo.repo.index.commit("example")
    store = seeded_store(example, tmp_path / "state")
    files = SecretFilesRoot(DEFAULT_SECRETS_ROOT / f"example-{tmp_path.name}")
    try:
        result = reconcile_once(
            revision=read_revision(open_repo(repo.path)),
            runtime=DockerRuntime(source="tests", grace_seconds=2, secret_files=files),
            secrets=store,
        )
        assert result.ok
        for name in ("shop-web-1", "shop-web-2", "shop-worker-1"):
            container = clean_engine.containers.get(name)
            assert any(e.startswith("DATABASE_URL=") for e in container.attrs["Config"]["Env"])
            code, listing = container.exec_run(["sh", "-c", "ls /run/secrets 2>/dev/null"])
            expected = "TLS_CERT\nTLS_KEY\n" if "web" in name else ""
            assert listing.decode() == expected
    finally:
        remove_managed_and_test_containers(clean_engine)
        shutil.rmtree(files.root, ignore_errors=True)


def notes_url(client: docker.DockerClient) -> str:
    port = client.api.port("notes-web-1", 8080)[0]["HostPort"]
    return f"http://127.0.0.1:{port}/cgi-bin/notes.cgi"


@pytest.mark.docker
def test_the_notes_example_web_reaches_its_store_by_name_and_notes_survive_a_redeploy(
    tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    """Needs networks and volumes (netvol) and health checks (appfields)."""
    shutil.copytree(ROOT / "examples" / "notes", tmp_path / "repo")
    repo = GitRepo(tmp_path / "repo")
    repo.repo.git.add(A=True)
    repo.repo.index.commit("example")
    clean_engine.images.get("gitberth/example-store:1.0").tag("gitberth/example-store", "1.1")

    def apply() -> None:
        result = reconcile_once(
            revision=read_revision(open_repo(repo.path)),
            runtime=DockerRuntime(source="tests", grace_seconds=2),
            secrets=None,
        )
        assert result.ok, {name: r.message for name, r in result.apps.items()}

    try:
        apply()
        store_before = clean_engine.containers.get("notes-store-1").id
        posted = httpx.post(notes_url(clean_engine), data={"note": "buy <milk> & eggs"})
        assert posted.status_code == 303, posted.text  # web stored it through http://store:8080
        assert "<li>buy &lt;milk&gt; &amp; eggs</li>" in httpx.get(notes_url(clean_engine)).text

        manifest = repo.path / "apps" / "notes.yaml"
        manifest.write_text(manifest.read_text().replace("example-store:1.0", "example-store:1.1"))
        repo.commit({"apps/notes.yaml": manifest.read_text()}, message="store 1.1")
        apply()

        store_after = clean_engine.containers.get("notes-store-1")
        assert store_after.id != store_before
        assert store_after.attrs["Config"]["Image"] == "gitberth/example-store:1.1"
        page = httpx.get(notes_url(clean_engine))  # the rollout waited for the store's health
        assert "<li>buy &lt;milk&gt; &amp; eggs</li>" in page.text
    finally:
        remove_managed_and_test_containers(clean_engine)
        for volume in clean_engine.volumes.list(filters={"label": "gitberth.app=notes"}):
            volume.remove(force=True)
        for network in clean_engine.networks.list(filters={"label": "gitberth.app=notes"}):
            network.remove()
        clean_engine.images.remove("gitberth/example-store:1.1")
