"""Each app has its own network where its services find each other by name; apps are
isolated unless they share a named network; a named volume keeps its data through replacements,
an engine restart and the app's removal, until it is pruned on purpose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest
from typer.testing import CliRunner

from gitberth.cli import app as cli
from gitberth.core.plan import ActionKind
from gitberth.reconciler import (
    AppStatus,
    NoSecretStore,
    ReconcileResult,
    history_from_repo,
    reconcile_once,
)
from gitberth.runtime.docker import DockerRuntime
from gitberth.source import open_repo, read_revision
from tests.support.engine import TEST_LABEL, remove_managed_and_test_containers, restart_dockerd
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

IMAGE = "gitberth/example-web:1.0"


def apply(repo: GitRepo) -> ReconcileResult:
    result = reconcile_once(
        revision=read_revision(open_repo(repo.path)),
        runtime=DockerRuntime(source="tests", grace_seconds=1),
        workers=2,
        history=history_from_repo(open_repo(repo.path), apps_dir="apps", secrets=NoSecretStore()),
    )
    assert result.ok, {name: r.message for name, r in result.apps.items() if r.status.is_error}
    return result


def shop(*, store_extra: str = "") -> str:
    return (
        "name: shop\nservices:\n"
        f"  - name: web\n    image: {IMAGE}\n    port: 8080\n"
        f"  - name: store\n    image: {IMAGE}\n    port: 8080\n{store_extra}"
    )


def fetch(client: docker.DockerClient, container: str, url: str) -> tuple[int, str]:
    code, output = client.containers.get(container).exec_run(
        ["timeout", "3", "wget", "-q", "-O", "-", url]  # busybox wget -T crashes here
    )
    return code, output.decode(errors="replace")


def ip_on(client: docker.DockerClient, container: str, network: str) -> str:
    networks = client.containers.get(container).attrs["NetworkSettings"]["Networks"]
    return str(networks[network]["IPAddress"])


def managed_networks(client: docker.DockerClient) -> set[str]:
    return {n["Name"] for n in client.api.networks(filters={"label": "gitberth.managed=true"})}


def test_services_of_an_app_reach_each_other_by_name_and_other_apps_do_not(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/shop.yaml": shop(), "apps/other.yaml": app_yaml("other")})
    apply(git_repo)

    code, page = fetch(clean_engine, "shop-web-1", "http://store:8080/")
    assert code == 0 and "<" in page
    labels = clean_engine.networks.get("gitberth-shop").attrs["Labels"]
    assert labels["gitberth.app"] == "shop" and labels["gitberth.managed"] == "true"

    assert fetch(clean_engine, "other-1", "http://store:8080/")[0] != 0
    assert fetch(clean_engine, "other-1", "http://shop-store-1:8080/")[0] != 0
    store_ip = ip_on(clean_engine, "shop-store-1", "gitberth-shop")
    assert fetch(clean_engine, "other-1", f"http://{store_ip}:8080/")[0] != 0


def test_a_shared_network_joins_two_apps_and_goes_when_no_app_names_it(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit(
        {
            "apps/shop.yaml": shop(store_extra="    networks: [shared-db]\n"),
            "apps/other.yaml": app_yaml("other", extra="networks: [shared-db]\n"),
        }
    )
    result = apply(git_repo)
    assert "shared-db" in managed_networks(clean_engine)

    code, _ = fetch(clean_engine, "other-1", "http://shop-store:8080/")
    assert code == 0
    assert fetch(clean_engine, "other-1", "http://shop-web:8080/")[0] != 0  # not on shared-db

    git_repo.commit({"apps/shop.yaml": shop()}, remove=("apps/other.yaml",))
    result = apply(git_repo)
    reasons = {a.container_name: a.reason for a in result.plan.changes}
    assert "network shared-db removed" in reasons["shop-store-1"]
    assert result.apps["other"].status is AppStatus.REMOVED
    assert managed_networks(clean_engine) == {"gitberth-shop"}


def test_volume_data_survives_a_replacement_and_an_engine_restart(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    volume = "volumes: [{name: data, path: /data}]\nrollout: stopFirst\n"
    git_repo.commit({"apps/vault.yaml": app_yaml("vault", extra=volume)})
    apply(git_repo)
    first = clean_engine.containers.get("vault-1")
    assert first.exec_run(["sh", "-c", "echo kept > /data/note"]).exit_code == 0
    labels = clean_engine.volumes.get("vault_data").attrs["Labels"]
    assert labels["gitberth.app"] == "vault" and labels["gitberth.volume"] == "data"

    git_repo.commit({"apps/vault.yaml": app_yaml("vault", env={"V": "2"}, extra=volume)})
    result = apply(git_repo)
    [replace] = result.plan.changes
    assert replace.kind is ActionKind.REPLACE
    second = clean_engine.containers.get("vault-1")
    assert second.id != first.id
    assert second.exec_run(["cat", "/data/note"]).output == b"kept\n"

    restart_dockerd()
    client = docker.from_env()
    wait_until(lambda: client.ping())
    apply(git_repo)
    third = wait_until(
        lambda: (c := client.containers.get("vault-1")).status == "running" and c,
        timeout=30,
    )
    assert third.exec_run(["cat", "/data/note"]).output == b"kept\n"


def test_removing_the_app_keeps_its_volume_orphaned_until_pruned(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    volume = "replicas: 2\nvolumes: [{name: files, path: /files}]\nsharedVolumeOk: true\n"
    git_repo.commit(
        {"apps/docs.yaml": app_yaml("docs", extra=volume), "apps/keep.yaml": app_yaml("keep")}
    )
    result = apply(git_repo)
    assert "volume files at /files (shared by 2 replicas)" in result.plan.changes[0].reason
    runner = CliRunner()
    listed = runner.invoke(cli, ["volumes"])
    assert listed.exit_code == 0 and "docs-1, docs-2" in listed.stdout

    refused = runner.invoke(cli, ["volumes", "prune", "docs", "--yes"])
    assert refused.exit_code == 1 and "used by" in refused.stderr
    assert clean_engine.volumes.get("docs_files")

    git_repo.commit(remove=("apps/docs.yaml",))
    result = apply(git_repo)
    assert all("volume docs_files kept (orphaned" in a.reason for a in result.plan.changes)
    assert clean_engine.volumes.get("docs_files")
    listed = runner.invoke(cli, ["volumes"])
    assert "docs_files" in listed.stdout and "orphaned" in listed.stdout

    unconfirmed = runner.invoke(cli, ["volumes", "prune", "docs"])
    assert unconfirmed.exit_code == 1 and "--yes" in unconfirmed.stderr
    assert clean_engine.volumes.get("docs_files")

    pruned = runner.invoke(cli, ["volumes", "prune", "docs", "--yes"])
    assert pruned.exit_code == 0 and "deleted volume docs_files" in pruned.stdout
    with pytest.raises(docker.errors.NotFound):
        clean_engine.volumes.get("docs_files")


def gitberth(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "gitberth", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_a_bind_mount_runs_only_under_a_prefix_the_operator_allows(
    git_repo: GitRepo, clean_engine: docker.DockerClient, tmp_path: Path
) -> None:
    allowed, outside = tmp_path / "srv-apps", tmp_path / "outside"
    (allowed / "real").mkdir(parents=True)
    outside.mkdir()
    (allowed / "real" / "hello.txt").write_text("from the host\n")
    (allowed / "link").symlink_to(allowed / "real")
    (allowed / "escape").symlink_to(outside)
    bind = "volumes: [{bind: SOURCE, path: /in, readOnly: true}]\n"
    git_repo.commit(
        {
            "apps/binder.yaml": app_yaml(
                "binder", extra=bind.replace("SOURCE", str(allowed / "link"))
            )
        }
    )

    refused = gitberth("apply", "--repo", str(git_repo.path), "--grace", "1")
    assert refused.returncode == 1
    said = " ".join(refused.stderr.split())
    assert "apps/binder.yaml:4:18: volumes.0.bind: bind" in said and "--allow-bind-under" in said
    assert clean_engine.api.containers(all=True, filters={"label": "gitberth.app"}) == []

    applied = gitberth("apply", "--repo", str(git_repo.path), "--allow-bind-under", str(allowed))
    assert applied.returncode == 0, applied.stderr
    assert f"bind {allowed / 'link'} at /in (read-only)" in applied.stdout
    container = clean_engine.containers.get("binder-1")
    assert container.exec_run(["cat", "/in/hello.txt"]).output == b"from the host\n"
    [mount] = [m for m in container.attrs["Mounts"] if m["Destination"] == "/in"]
    assert mount["Source"] == str(allowed / "real") and mount["RW"] is False

    git_repo.commit(
        {
            "apps/binder.yaml": app_yaml(
                "binder", extra=bind.replace("SOURCE", str(allowed / "escape"))
            )
        }
    )
    escaped = gitberth("apply", "--repo", str(git_repo.path), "--allow-bind-under", str(allowed))
    assert escaped.returncode == 1
    said = " ".join(escaped.stderr.split())  # the terminal width wraps long lines
    assert f"({outside}) is not under an allowed prefix ({allowed})" in said
    assert clean_engine.containers.get("binder-1").id == container.id  # held, left running


def test_a_volume_or_network_gitberth_did_not_create_is_never_adopted(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    foreign_volume = clean_engine.volumes.create("squat_data", labels={TEST_LABEL: "1"})
    foreign_network = clean_engine.networks.create("foreign-net", labels={TEST_LABEL: "1"})
    try:
        git_repo.commit(
            {
                "apps/squat.yaml": app_yaml(
                    "squat", extra="volumes: [{name: data, path: /d}]\nrollout: stopFirst\n"
                ),
                "apps/joiner.yaml": app_yaml("joiner", extra="networks: [foreign-net]\n"),
                "apps/fine.yaml": app_yaml("fine"),
            }
        )
        result = reconcile_once(
            revision=read_revision(open_repo(git_repo.path)),
            runtime=DockerRuntime(source="tests", grace_seconds=1),
        )
        assert "volume squat_data exists and is not app squat's" in result.apps["squat"].message
        assert "network foreign-net exists and was not created by gitberth" in (
            result.apps["joiner"].message
        )
        assert result.apps["fine"].status is AppStatus.APPLIED
        assert clean_engine.volumes.get("squat_data").attrs["Labels"] == {TEST_LABEL: "1"}
        assert clean_engine.networks.get("foreign-net").attrs["Labels"] == {TEST_LABEL: "1"}
    finally:
        remove_managed_and_test_containers(clean_engine)
        foreign_network.remove()
        foreign_volume.remove()


def test_a_new_apps_network_costs_one_engine_call(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    """The engine refuses a duplicate name itself: no listing by name before each create
    (that listing grows with every network on the engine, and 1,000 apps paid it 1,000 times)."""
    git_repo.commit({f"apps/a{i}.yaml": app_yaml(f"a{i}") for i in range(3)})
    runtime = DockerRuntime(source="tests", grace_seconds=1)
    result = reconcile_once(revision=read_revision(open_repo(git_repo.path)), runtime=runtime)

    assert result.ok
    assert runtime.calls["POST /networks/create"] == 3
    assert runtime.calls["GET /networks"] == 1  # the pass's one look for networks to release
    assert managed_networks(clean_engine) == {"gitberth-a0", "gitberth-a1", "gitberth-a2"}
