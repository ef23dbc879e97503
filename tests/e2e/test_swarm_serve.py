"""``gitberth serve --runtime swarm`` on the tests' own single-node swarm, as users run it: the
examples converge with their secret files as Swarm secrets, ``GET /apps`` lists every
service's tasks, a secret change updates exactly its consumers, and a failing update is rolled
back by Swarm and shown Degraded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.e2e.conftest import Server, StartServer
from tests.support.gitrepo import GitRepo
from tests.support.swarm import swarm_host
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
SENTINEL = "sentinel-e2e-swarm-3f9a-never-shown"


def apps(server: Server) -> dict[str, dict[str, Any]]:
    with server.client() as client:
        body = client.get("/apps").json()
    return {app["name"]: app for app in body["apps"]}


def all_synced(server: Server, names: set[str]) -> dict[str, dict[str, Any]] | None:
    seen = apps(server)
    if names <= set(seen) and all(seen[n]["sync"] == "Synced" for n in names):
        return seen
    return None


def spec_hash(client: docker.DockerClient, name: str) -> str:
    return str(client.api.inspect_service(name)["Spec"]["Labels"]["gitberth.spec-hash"])


def test_serve_runs_the_examples_on_swarm_and_rotates_and_rolls_back(
    tmp_path: Path,
    start_server: StartServer,
    clean_swarm: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", swarm_host())  # the server drives the tests' swarm
    repo = GitRepo(tmp_path / "repo")
    (repo.path / "apps").mkdir()
    for example in ("quickstart", "shop", "notes"):
        for manifest in (ROOT / "examples" / example / "apps").glob("*.yaml"):
            shutil.copy(manifest, repo.path / "apps" / manifest.name)
    repo.repo.git.add(A=True)
    repo.repo.index.commit("examples")
    server = start_server(
        repo=repo.path,
        extra_args=("--runtime", "swarm", "--grace", "1", "--rollout-timeout", "60"),
    )
    listing = json.loads((ROOT / "examples" / "shop" / "secrets.keys.json").read_text())
    with server.client() as client:
        for name, spec in listing.items():
            data = {key: f"{key.lower()}-one" for key in spec["keys"]}
            if name == "shop-tls":
                data["TLS_KEY"] = SENTINEL
            body = {
                "name": name,
                "data": data,
                **({"appId": spec["appId"]} if spec["appId"] else {}),
            }
            assert client.post("/secrets", json=body).status_code in (200, 201)

    seen = wait_until(lambda: all_synced(server, {"hello", "shop", "notes"}), timeout=180)

    web = next(c for c in seen["shop"]["containers"] if c["name"] == "shop-web")
    assert len(web["tasks"]) == 2
    assert {(t["state"], t["desiredState"]) for t in web["tasks"]} == {("running", "running")}
    assert all(t["node"] for t in web["tasks"])
    versions = clean_swarm.api.secrets(filters={"label": "gitberth.app=shop"})
    assert {v["Spec"]["Labels"]["gitberth.secret-key"] for v in versions} == {
        "TLS_CERT",
        "TLS_KEY",
    }
    worker_hash = spec_hash(clean_swarm, "shop-worker")
    web_hash = spec_hash(clean_swarm, "shop-web")

    with server.client() as client:
        rotated = {"TLS_CERT": "tls_cert-two", "TLS_KEY": "tls_key-two"}
        client.post("/secrets", json={"name": "shop-tls", "appId": "shop", "data": rotated})
    wait_until(lambda: spec_hash(clean_swarm, "shop-web") != web_hash, timeout=60)
    wait_until(lambda: all_synced(server, {"shop"}), timeout=120)
    assert spec_hash(clean_swarm, "shop-worker") == worker_hash, "only consumers are updated"
    wait_until(
        lambda: len(clean_swarm.api.secrets(filters={"label": "gitberth.app=shop"})) == 2,
        timeout=30,
    )

    hello = (repo.path / "apps" / "hello.yaml").read_text()
    repo.commit(
        {
            "apps/hello.yaml": hello.replace(
                "healthcheck: {http: /}", "healthcheck: {http: /no-such-page, retries: 1}"
            )
        }
    )
    good = spec_hash(clean_swarm, "hello")

    def degraded() -> bool:
        return apps(server)["hello"]["sync"] == "Degraded"

    wait_until(degraded, timeout=120)
    assert spec_hash(clean_swarm, "hello") == good, "Swarm rolled the update back"
    assert SENTINEL not in server.logs()
    for path in server.state_dir.rglob("*"):
        if path.is_file():
            assert SENTINEL.encode() not in path.read_bytes(), path
