"""Deploy history and rollback against a real server, real Git repos and the real engine.

History answers "what ran before, who changed it and why"; a rollback is one command that leaves
a Git commit behind, which the loop applies like any commit, touching no other app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import git
import httpx
import pytest

from tests.e2e.conftest import StartServer, run_cli
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

COMMAND = "command: [sh, -c, 'trap \"exit 0\" TERM; echo level $LEVEL; sleep 100000 & wait']\n"


def sleeper(name: str, level: str) -> str:
    return app_yaml(name, port=None, env={"LEVEL": level}, extra=COMMAND)


def synced_at(api: httpx.Client, app: str, sha: str) -> bool:
    state = api.get(f"/apps/{app}").json()
    return state.get("sync") == "Synced" and state.get("appliedRevision") == sha


def env_of(client: docker.DockerClient, name: str) -> list[str]:
    return list(client.containers.get(name).attrs["Config"]["Env"])


def history(api: httpx.Client, app: str) -> list[dict[str, Any]]:
    response = api.get(f"/apps/{app}/history")
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repository = GitRepo(tmp_path / "repo")
    repository.commit({"README.md": "apps live in apps/\n"}, message="start")
    return repository


def test_history_shows_who_and_why_and_a_rollback_is_a_commit_the_loop_applies(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    first = repo.commit(
        {"apps/web.yaml": sleeper("web", "one"), "apps/side.yaml": sleeper("side", "s")},
        message="web: level one",
    )
    server = start_server(repo=repo.path, extra_args=("--grace", "1"))
    with server.client() as api:
        wait_until(lambda: synced_at(api, "web", first))
        side_id = clean_engine.containers.get("side-1").id
        second = repo.commit({"apps/web.yaml": sleeper("web", "two")}, message="web: level two")
        wait_until(lambda: synced_at(api, "web", second))

        entries = wait_until(lambda: (found := history(api, "web")) and len(found) == 2 and found)
        assert [e["revision"] for e in entries] == [second, first]
        newest, oldest = entries
        assert newest["subject"] == "web: level two"
        assert newest["author"] == "gitberth tests"
        assert newest["authorEmail"] == "tests@gitberth.invalid"
        assert newest["outcome"] == "applied" and newest["error"] is None
        assert [(a["kind"], a["container"], a["outcome"]) for a in newest["actions"]] == [
            ("replace", "web-1", "ok")
        ]
        assert "LEVEL" in newest["actions"][0]["reason"]
        assert newest["durationSeconds"] > 0
        assert [(a["kind"], a["container"]) for a in oldest["actions"]] == [("create", "web-1")]

        response = api.post("/apps/web/rollback", json={"to": first})
        assert response.status_code == 202, response.text
        answer = response.json()
        assert answer["restored"] == first and answer["changed"] is True
        assert answer["plan"] == [
            {"action": "replace", "container": "web-1", "reason": answer["plan"][0]["reason"]}
        ]
        assert answer["secrets"]["rolledBack"] is False
        assert "not rolled back" in answer["secrets"]["note"]

        head = repo.repo.commit("main")
        assert answer["revision"] == head.hexsha
        assert head.message.startswith(f"rollback web to {first[:12]}")
        assert f"Gitberth-Rollback-Of: {first}" in head.message
        assert "not rolled back" in str(head.message)
        assert head.parents[0].hexsha == second
        assert [d.a_path for d in head.parents[0].diff(head)] == ["apps/web.yaml"]
        restored = (head.tree / "apps" / "web.yaml").data_stream.read().decode()
        assert restored == sleeper("web", "one")

        wait_until(lambda: synced_at(api, "web", head.hexsha))
        assert "LEVEL=one" in env_of(clean_engine, "web-1")
        assert clean_engine.containers.get("side-1").id == side_id, "other apps untouched"

        rolled = wait_until(lambda: history(api, "web")[0]["revision"] == head.hexsha)
        assert rolled
        top = history(api, "web")[0]
        assert top["rollbackOf"] == first
        assert top["tokenId"] == "env"
        assert top["subject"] == f"rollback web to {first[:12]}"
        assert [e["revision"] for e in history(api, "side")] == [first], "side only created"

        deployed = api.post(
            "/deploy",
            json={
                "name": "web",
                "image": "gitberth/example-web:1.0",
                "env": {"LEVEL": "three"},
                "command": ["sh", "-c", 'trap "exit 0" TERM; sleep 100000 & wait'],
            },
        )
        assert deployed.status_code == 202, deployed.text
        top = history(api, "web")[0]
        assert top["revision"] == deployed.json()["revision"]
        assert (top["subject"], top["tokenId"], top["trigger"]) == (
            "deploy web",
            "env",
            "deploy web",
        )

    printed = run_cli("history", "web", env={**server.cli_env(), "COLUMNS": "250"})
    assert "rollback web" in printed and "deploy web" in printed and "token env" in printed
    printed = run_cli("rollback", "web", "--to", second, env=server.cli_env())
    assert f"as it was at {second[:12]}" in printed
    assert "secrets are not rolled back" in printed
    with server.client() as api:
        wait_until(lambda: synced_at(api, "web", repo.repo.commit("main").hexsha))
    assert "LEVEL=two" in env_of(clean_engine, "web-1")
    metrics = httpx.get(f"{server.url}/metrics", headers=server.auth).text
    assert 'gitberth_rollbacks_total{outcome="committed"} 2.0' in metrics


def test_refusals_name_the_problem_and_write_nothing(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    before_web = repo.repo.commit("main").hexsha
    first = repo.commit(
        {"apps/web.yaml": sleeper("web", "one"), "apps/side.yaml": sleeper("side", "s")}
    )
    broken = repo.commit({"apps/web.yaml": "name: web\ncolour: red\n"}, message="broken web")
    repo.commit({"apps/web.yaml": sleeper("web", "two")})
    short_suffix = repo.commit({"apps/yml.yml": sleeper("yml", "one")})
    repo.commit({"apps/yml.yml": sleeper("yml", "two")})
    renamed = repo.commit({"apps/moved.yaml": sleeper("moved", "one")})
    repo.commit({"apps/moved.yml": sleeper("moved", "one")}, remove=("apps/moved.yaml",))
    server = start_server(repo=repo.path, extra_args=("--grace", "1"))
    side_token = server.create_token("--role", "deployer", "--app", "side")
    web_token = server.create_token("--role", "deployer", "--app", "web")
    tip = repo.repo.commit("main").hexsha
    with server.client() as api:
        cases = {
            "no-such-rev": (404, "unknown_revision"),
            "0" * 40: (404, "unknown_revision"),
            "--upload-pack=touch /tmp/x": (404, "unknown_revision"),
            before_web: (400, "app_not_at_revision"),
            broken: (400, "app_not_at_revision"),
        }
        for to, (status, code) in cases.items():
            response = api.post("/apps/web/rollback", json={"to": to})
            assert (response.status_code, response.json()["error"]) == (status, code), to
        response = api.post("/apps/moved/rollback", json={"to": renamed})
        assert response.status_code == 400 and "declare the app twice" in response.json()["message"]
        assert api.post("/apps/web/rollback", json={"to": 5}).status_code == 400
        assert api.post("/apps/web/rollback", json={"to": first, "x": 1}).status_code == 400
        assert api.get("/apps/nope/history").status_code == 404
        for bad_name in ("..%2FREADME", "UPPER", "a" * 64):
            assert api.post(f"/apps/{bad_name}/rollback", json={"to": first}).status_code == 404
            assert api.get(f"/apps/{bad_name}/history").status_code == 404

        orphan = repo.repo.git.commit_tree(repo.repo.commit(first).tree.hexsha, "-m", "orphan")
        response = api.post("/apps/web/rollback", json={"to": orphan})
        assert response.status_code == 404 and "not in the history" in response.json()["message"]
    assert repo.repo.commit("main").hexsha == tip, "no refusal wrote a commit"

    with server.client(side_token) as api:
        assert api.post("/apps/web/rollback", json={"to": first}).status_code == 403
        assert api.get("/apps/web/history").status_code == 404
        assert api.get("/apps/web/logs").status_code == 404
    assert repo.repo.commit("main").hexsha == tip
    with server.client(web_token) as api:
        response = api.post("/apps/web/rollback", json={"to": first})
        assert response.status_code == 202, response.text
    assert repo.repo.commit("main").hexsha != tip
    with server.client() as api:
        assert api.post("/apps/yml/rollback", json={"to": short_suffix}).status_code == 202
    head = repo.repo.commit("main")
    assert (head.tree / "apps" / "yml.yml").data_stream.read().decode() == sleeper("yml", "one")
    assert "yml.yaml" not in [b.name for b in (head.tree / "apps").blobs]


def test_a_rollback_on_a_read_only_remote_answers_409_and_pushes_nothing(
    start_server: StartServer, tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    upstream = GitRepo(tmp_path / "upstream")
    first = upstream.commit({"apps/web.yaml": sleeper("web", "one")})
    upstream.commit({"apps/web.yaml": sleeper("web", "two")})
    remote = git.Repo.clone_from(str(upstream.path), str(tmp_path / "remote.git"), bare=True)
    hook = Path(remote.git_dir) / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    tip = remote.commit("main").hexsha
    server = start_server(
        name="remote", repo=f"file://{remote.git_dir}", extra_args=("--grace", "1")
    )
    with server.client() as api:
        wait_until(lambda: api.get("/apps/web").json().get("sync") == "Synced")
        response = api.post("/apps/web/rollback", json={"to": first})
        assert response.status_code == 409
        assert response.json()["error"] == "read_only_repo"
    assert remote.commit("main").hexsha == tip
    assert "LEVEL=two" in env_of(clean_engine, "web-1")
