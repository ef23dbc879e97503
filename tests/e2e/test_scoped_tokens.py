"""An app-scoped deployer token is confined to its app: it deploys only with shared secrets
granted to it, sees only its app in /apps and /events, may not read the server-wide /metrics,
and /deploy refuses (409) an app whose container names another app already has. Every deploy
is in the audit log with its token, app and revision."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.e2e.conftest import Server, StartServer
from tests.support.gitrepo import GitRepo
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

IMAGE = "gitberth/example-web:1.0"
QUICK_STOP = ["sh", "-c", 'trap "exit 0" TERM; sleep 100000 & wait']
SENTINEL = "sentinel-scoped-9b1e-never-echoed"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repository = GitRepo(tmp_path / "repo")
    repository.commit({"README.md": "apps live in apps/\n"}, message="start")
    return repository


@pytest.fixture
def deploy_server(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> Server:
    server = start_server(repo=repo.path, extra_args=("--grace", "1"))
    with server.client() as admin:  # the first pass has read the repo before deploys commit
        wait_until(lambda: admin.get("/events").json()["passes"])
    return server


def manifest(name: str, **fields: object) -> dict[str, object]:
    return {"name": name, "image": IMAGE, "command": QUICK_STOP, **fields}


def test_shared_secrets_need_a_grant(deploy_server: Server, repo: GitRepo) -> None:
    with deploy_server.client() as admin:
        for name in ("db", "payments"):
            admin.post("/secrets", json={"name": name, "data": {"URL": SENTINEL}})
        admin.post("/secrets", json={"name": "own", "data": {"URL": "x"}, "appId": "web"})
    granted = deploy_server.create_token(
        "--role", "deployer", "--app", "web", "--shared-secret", "db"
    )
    before = repo.repo.commit("main").hexsha

    with deploy_server.client(granted) as web:
        refused = web.post("/deploy", json=manifest("web", envFrom=["db", "payments"]))
        assert refused.status_code == 403
        assert refused.json()["error"] == "forbidden"
        assert "payments" in refused.json()["message"] and "db," not in refused.json()["message"]
        assert SENTINEL not in refused.text
        assert repo.repo.commit("main").hexsha == before

        accepted = web.post("/deploy", json=manifest("web", envFrom=["db", "own"]))
        assert accepted.status_code == 202, accepted.text

    with deploy_server.client() as admin:
        entries = admin.get("/audit").json()["entries"]
    deploys = [e for e in entries if e["action"] == "deploy"]
    assert deploys[0]["name"] == "web" and deploys[0]["outcome"] == "ok"
    assert deploys[0]["detail"] == {"revision": accepted.json()["revision"]}
    assert deploys[0]["tokenId"] == granted.split("_")[1]
    assert SENTINEL not in repr(entries)


def test_status_is_filtered_to_the_tokens_app(deploy_server: Server) -> None:
    with deploy_server.client() as admin:
        for name in ("web", "billing"):
            assert admin.post("/deploy", json=manifest(name)).status_code == 202
    scoped = deploy_server.create_token("--role", "deployer", "--app", "web")
    with deploy_server.client(scoped) as web:
        wait_until(lambda: [a["name"] for a in web.get("/apps").json()["apps"]] == ["web"])
        assert web.get("/apps/web").status_code == 200
        assert web.get("/apps/billing").status_code == 404
        passes = web.get("/events").json()["passes"]
        apps_seen = {action["app"] for p in passes for action in p["actions"]}
        assert apps_seen <= {"web"}
        metrics = web.get("/metrics")
        assert metrics.status_code == 403 and metrics.json()["error"] == "forbidden"
    with deploy_server.client() as admin:
        names = {a["name"] for a in admin.get("/apps").json()["apps"]}
        assert names == {"web", "billing"}
        assert admin.get("/metrics").status_code == 200


def test_a_deploy_whose_containers_another_app_has_is_409(
    deploy_server: Server, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    with deploy_server.client() as admin:
        multi = {
            "name": "a",
            "services": [{"name": "b", "image": IMAGE, "command": QUICK_STOP}],
        }
        assert admin.post("/deploy", json=multi).status_code == 202
        before = repo.repo.commit("main").hexsha
        clash = admin.post("/deploy", json=manifest("a-b"))
        assert clash.status_code == 409
        assert clash.json()["error"] == "container_name_conflict"
        assert "app a " in clash.json()["message"]
        assert repo.repo.commit("main").hexsha == before
        assert admin.post("/deploy", json=manifest("a")).status_code == 202
    assert clean_engine.containers.get("a-1").labels["gitberth.app"] == "a"


def test_a_scoped_token_cannot_unshadow_an_ungranted_shared_secret(
    deploy_server: Server,
) -> None:
    """Deploying with its own ``payments`` and then deleting it would make the app fall back to
    the shared ``payments``, whose values the token was never granted."""
    with deploy_server.client() as admin:
        admin.post("/secrets", json={"name": "payments", "data": {"URL": SENTINEL}})
    scoped = deploy_server.create_token("--role", "deployer", "--app", "web")
    with deploy_server.client(scoped) as web:
        own = {"name": "payments", "data": {"URL": "mine"}, "appId": "web"}
        assert web.post("/secrets", json=own).status_code == 201
        assert web.post("/deploy", json=manifest("web", envFrom=["payments"])).status_code == 202
        refused = web.delete("/secrets/payments", params={"appId": "web"})
        assert refused.status_code == 403 and "not granted" in refused.json()["message"]
        assert SENTINEL not in refused.text
        assert web.post("/secrets", json={**own, "name": "cache"}).status_code == 201
        assert web.delete("/secrets/cache", params={"appId": "web"}).status_code == 204
