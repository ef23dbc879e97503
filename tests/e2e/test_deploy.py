"""POST /deploy: the guide's curl, verbatim, ends as a commit in Git and a running container
with the promised env and files; every refusal happens before anything is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import docker.errors
import git
import pytest

from tests.e2e.conftest import Server, StartServer
from tests.support.gitrepo import GitRepo, app_yaml, read_only_remote
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

GUIDE_DEPLOY = """curl -s -X POST $API/deploy \\
-H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \\
-d '{
"name":"api", "image":"acme/api:1.0", "port":3000,
"envFrom":["db-creds"],
"secretFiles":["tls-bundle"]
}'"""
SENTINEL = "sentinel-deploy-4f2b-never-in-git"


@pytest.fixture(scope="module")
def acme_image() -> None:
    client = docker.from_env()
    client.images.get("gitberth/example-web:1.0").tag("acme/api", "1.0")


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repository = GitRepo(tmp_path / "repo")
    repository.commit({"README.md": "apps live in apps/\n"}, message="start")
    return repository


@pytest.fixture
def deploy_server(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient, acme_image: None
) -> Server:
    return start_server(repo=repo.path, extra_args=("--grace", "2"))


def curl(server: Server, script: str) -> str:
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={"API": server.url, "TOKEN": server.token, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    ).stdout


def test_the_guide_deploy_curl_commits_and_runs_with_env_and_files(
    deploy_server: Server, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    with deploy_server.client() as api:
        assert (
            api.post(
                "/secrets", json={"name": "db-creds", "data": {"DATABASE_URL": SENTINEL}}
            ).status_code
            == 201
        )
        assert (
            api.post(
                "/secrets", json={"name": "tls-bundle", "data": {"TLS_CERT": "c", "TLS_KEY": "k"}}
            ).status_code
            == 201
        )

    answer = json.loads(curl(deploy_server, GUIDE_DEPLOY))

    assert answer["app"] == "api"
    assert answer["plan"] == [{"action": "create", "container": "api-1", "reason": "new app"}]
    assert answer["sources"] == {
        "api": {
            "env": {"DATABASE_URL": "secret db-creds (shared)"},
            "files": {
                "TLS_CERT": "secret tls-bundle (shared)",
                "TLS_KEY": "secret tls-bundle (shared)",
            },
        }
    }
    head = repo.repo.commit("main")
    assert answer["revision"] == head.hexsha
    assert head.message.strip() == "deploy api"
    assert head.author.name.startswith("gitberth token ")
    manifest = (head.tree / "apps" / "api.yaml").data_stream.read().decode()
    assert "acme/api:1.0" in manifest and "db-creds" in manifest
    container = clean_engine.containers.get("api-1")
    assert f"DATABASE_URL={SENTINEL}" in container.attrs["Config"]["Env"]
    code, listing = container.exec_run(["ls", "/run/secrets"])
    assert (code, listing.decode()) == (0, "TLS_CERT\nTLS_KEY\n")
    assert container.labels["gitberth.revision"] == head.hexsha
    assert SENTINEL not in repr(container.labels)
    history = subprocess.run(
        ["git", "-C", str(repo.path), "log", "-p", "--all"], capture_output=True, check=True
    ).stdout
    assert SENTINEL.encode() not in history
    assert SENTINEL not in deploy_server.logs()


def test_an_unknown_secret_is_refused_before_anything_is_written(
    deploy_server: Server, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    before = repo.repo.commit("main").hexsha
    with deploy_server.client() as api:
        response = api.post(
            "/deploy",
            json={
                "name": "api",
                "image": "acme/api:1.0",
                "envFrom": ["nope", "db"],
                "secretFiles": ["tls"],
            },
        )
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_secret"
    assert response.json()["missing"] == ["db", "nope", "tls"]
    assert repo.repo.commit("main").hexsha == before
    assert clean_engine.api.containers(all=True, filters={"label": "gitberth.app"}) == []


def test_an_invalid_manifest_names_every_field(deploy_server: Server, repo: GitRepo) -> None:
    before = repo.repo.commit("main").hexsha
    with deploy_server.client() as api:
        response = api.post("/deploy", json={"name": "api", "image": "x", "port": 0, "bogus": 1})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_manifest"
    assert any("port" in p for p in body["problems"])
    assert any("bogus: unknown field" in p for p in body["problems"])
    assert repo.repo.commit("main").hexsha == before


def test_an_app_scoped_deployer_may_deploy_only_its_app(
    deploy_server: Server, repo: GitRepo
) -> None:
    token = deploy_server.create_token("--role", "deployer", "--app", "web")
    with deploy_server.client(token) as api:
        other = api.post("/deploy", json={"name": "api", "image": "acme/api:1.0"})
        own = api.post("/deploy", json={"name": "web", "image": "acme/api:1.0"})
    assert other.status_code == 403
    assert own.status_code == 202, own.text
    assert {p.name for p in (repo.path / "apps").iterdir()} == {"web.yaml"}


def test_a_deploy_keeps_a_concurrent_commit_and_a_dirty_checkout(
    deploy_server: Server, repo: GitRepo
) -> None:
    repo.commit({"apps/mine.yaml": app_yaml("mine", image="acme/api:1.0")}, message="by hand")
    repo.write("apps/mine.yaml", app_yaml("mine", image="acme/api:1.0", env={"WIP": "1"}))
    with deploy_server.client() as api:
        response = api.post("/deploy", json={"name": "api", "image": "acme/api:1.0"})
    assert response.status_code == 202, response.text
    head = repo.repo.commit("main")
    assert head.parents[0].message.strip() == "by hand"
    assert {b.name for b in (head.tree / "apps").blobs} == {"api.yaml", "mine.yaml"}
    assert "WIP" in (repo.path / "apps" / "mine.yaml").read_text(), "local edit kept"
    assert (repo.path / "apps" / "api.yaml").exists(), "checkout fast-forwarded"


def test_a_remote_that_refuses_pushes_answers_read_only(
    start_server: StartServer, tmp_path: Path, acme_image: None
) -> None:
    remote = read_only_remote(tmp_path / "remote.git")
    server = start_server(name="remote", repo=f"file://{remote.git_dir}")
    with server.client() as api:
        response = api.post("/deploy", json={"name": "api", "image": "acme/api:1.0"})
    assert response.status_code == 409
    assert response.json()["error"] == "read_only_repo"
    assert "pull request" in response.json()["message"]
    assert not remote.heads, "nothing reached the remote"


def test_a_deploy_to_a_writable_remote_is_pushed_and_applied(
    start_server: StartServer,
    tmp_path: Path,
    clean_engine: docker.DockerClient,
    acme_image: None,
) -> None:
    upstream = GitRepo(tmp_path / "upstream")
    upstream.commit({"apps/other.yaml": app_yaml("other", image="acme/api:1.0")})
    remote = git.Repo.clone_from(str(upstream.path), str(tmp_path / "remote.git"), bare=True)
    server = start_server(
        name="remote", repo=f"file://{remote.git_dir}", extra_args=("--grace", "1")
    )
    with server.client() as api:
        wait_until(lambda: api.get("/apps/other").json().get("sync") == "Synced")
        response = api.post("/deploy", json={"name": "api", "image": "acme/api:1.0"})
    assert response.status_code == 202, response.text
    head = remote.commit("main")
    assert head.hexsha == response.json()["revision"]
    assert head.message.strip() == "deploy api"
    assert {b.name for b in (head.tree / "apps").blobs} == {"api.yaml", "other.yaml"}
    assert clean_engine.containers.get("api-1").status == "running"
    assert clean_engine.containers.get("other-1").status == "running"


def test_a_secret_write_replaces_exactly_its_consumers_at_once(
    deploy_server: Server, clean_engine: docker.DockerClient
) -> None:
    with deploy_server.client() as api:
        api.post("/secrets", json={"name": "db-creds", "data": {"DATABASE_URL": "one"}})
        assert (
            api.post(
                "/deploy", json={"name": "api", "image": "acme/api:1.0", "envFrom": ["db-creds"]}
            ).status_code
            == 202
        )
        assert (
            api.post("/deploy", json={"name": "other", "image": "acme/api:1.0"}).status_code == 202
        )
        consumer = clean_engine.containers.get("api-1").id
        bystander = clean_engine.containers.get("other-1").id

        api.post("/secrets", json={"name": "db-creds", "data": {"DATABASE_URL": "two"}})

        def replaced() -> bool:
            try:
                container = clean_engine.containers.get("api-1")
            except docker.errors.NotFound:
                return False
            return container.id != consumer and container.status == "running"

        wait_until(replaced)
    assert "DATABASE_URL=two" in clean_engine.containers.get("api-1").attrs["Config"]["Env"]
    assert clean_engine.containers.get("other-1").id == bystander


def test_serve_refuses_a_secrets_dir_that_is_not_in_ram(repo: GitRepo, tmp_path: Path) -> None:
    on_disk = tmp_path / "secrets-on-disk"
    result = subprocess.run(
        [sys.executable, "-m", "gitberth", "serve", "--state-dir", str(tmp_path / "state"),
         "--repo", str(repo.path), "--secrets-dir", str(on_disk), "--listen", "127.0.0.1:1"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "500"},
    )  # fmt: skip
    assert result.returncode == 2
    assert f"the secrets directory {on_disk} is on" in result.stderr
    assert "not in RAM" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_sweeps_orphan_secret_dirs_at_start(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    root = Path("/run/gitberth/secrets") / f"sweep-{time.monotonic_ns()}"
    orphan = root / "gone-1.abcdef"
    orphan.mkdir(parents=True)
    (orphan / "KEY").write_text("left by a crash")
    start_server(repo=repo.path, extra_args=("--secrets-dir", str(root)))
    assert not orphan.exists()
    shutil.rmtree(root, ignore_errors=True)


def test_a_deploy_is_never_reverted_by_a_loop_pass_on_the_older_revision(
    deploy_server: Server, clean_engine: docker.DockerClient
) -> None:
    """A replace makes Docker events that wake the loop; that pass must see the new commit."""
    seen: set[str] = set()
    with deploy_server.client() as api:
        for value in ("1", "2", "3"):
            body = {"name": "api", "image": "acme/api:1.0", "env": {"V": value}}
            assert api.post("/deploy", json=body).status_code == 202
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                for row in clean_engine.api.containers(filters={"label": "gitberth.app=api"}):
                    try:
                        env = clean_engine.api.inspect_container(row["Id"])["Config"]["Env"]
                    except docker.errors.NotFound:
                        continue  # removed between the list and the inspect
                    seen.add(next(e for e in env if e.startswith("V=")))
                time.sleep(0.05)
            assert f"V={value}" in seen
            seen.discard(f"V={value}")
            assert not {f"V={v}" for v in "123" if v < value} & seen, "an older spec came back"
            seen.clear()
