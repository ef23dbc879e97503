"""Manifests committed to Git become running, labelled containers on the real engine."""

from __future__ import annotations

import dataclasses
import time
import urllib.request

import docker
import pytest

from gitberth.core.plan import ActionKind
from gitberth.reconciler import (
    AppStatus,
    NoSecretStore,
    ReconcileResult,
    history_from_repo,
    reconcile_once,
)
from gitberth.runtime.docker import DockerRuntime
from gitberth.runtime.rollout import port_answers
from gitberth.source import open_repo, read_revision
from tests.support.engine import TEST_LABEL
from tests.support.gitrepo import GitRepo, app_yaml

pytestmark = pytest.mark.docker


def apply(repo: GitRepo, runtime: DockerRuntime | None = None) -> ReconcileResult:
    repository = open_repo(repo.path)
    revision = read_revision(repository)
    secrets = NoSecretStore()
    return reconcile_once(
        revision=revision,
        runtime=runtime or DockerRuntime(source="tests", grace_seconds=2),
        secrets=secrets,
        history=history_from_repo(repository, apps_dir="apps", secrets=secrets),
    )


def ids(client: docker.DockerClient) -> dict[str, str]:
    rows = client.api.containers(all=True, filters={"label": "gitberth.app"})
    return {row["Names"][0].lstrip("/"): row["Id"] for row in rows}


def test_a_committed_app_runs_with_labels_and_answers_on_its_url(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    sha = git_repo.commit({"apps/hello.yaml": app_yaml("hello", env={"GREETING": "hi"})})

    result = apply(git_repo)

    assert result.ok
    container = clean_engine.containers.get("hello-1")
    assert container.labels == {
        "gitberth.app": "hello",
        "gitberth.source": "tests",
        "gitberth.service": "hello",
        "gitberth.spec-hash": result.plan.actions[0].target.spec_hash,  # type: ignore[union-attr]
        "gitberth.revision": sha,
    }
    assert "GREETING=hi" in container.attrs["Config"]["Env"]
    binding = container.attrs["HostConfig"]["PortBindings"]["8080/tcp"][0]
    assert binding["HostIp"] == "127.0.0.1"
    [report_container] = result.apps["hello"].containers
    assert report_container.url is not None
    body = urllib.request.urlopen(report_container.url + "/cgi-bin/index.cgi", timeout=5).read()
    assert b"GREETING" in body and b"hi\n" not in body


def test_multi_service_apps_name_containers_app_service_replica(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit(
        {
            "apps/shop.yaml": (
                "name: shop\nservices:\n"
                "  - name: web\n    image: gitberth/example-web:1.0\n    port: 8080\n"
                "    replicas: 2\n"
                "  - name: worker\n    image: gitberth/example-web:1.0\n"
            )
        }
    )
    assert apply(git_repo).ok
    assert sorted(ids(clean_engine)) == ["shop-web-1", "shop-web-2", "shop-worker-1"]


def test_an_env_change_replaces_only_that_app(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit(
        {
            "apps/one.yaml": app_yaml("one", env={"GREETING": "hello"}),
            "apps/two.yaml": app_yaml("two", env={"GREETING": "hello"}),
        }
    )
    apply(git_repo)
    before = ids(clean_engine)

    git_repo.commit({"apps/one.yaml": app_yaml("one", env={"GREETING": "bonjour"})})
    result = apply(git_repo)

    after = ids(clean_engine)
    assert after["two-1"] == before["two-1"]
    assert after["one-1"] != before["one-1"]
    [replace] = result.plan.changes
    assert replace.kind is ActionKind.REPLACE
    assert replace.reason == "env GREETING changed"
    assert result.apps["one"].status is AppStatus.APPLIED
    assert result.apps["two"].status is AppStatus.UNCHANGED


def test_an_image_change_names_both_images(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    clean_engine.images.get("gitberth/example-web:1.0").tag("gitberth/example-web", "1.1")
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    apply(git_repo)
    git_repo.commit({"apps/web.yaml": app_yaml("web", image="gitberth/example-web:1.1")})
    [replace] = apply(git_repo).plan.changes
    assert replace.reason == "image gitberth/example-web:1.0 -> gitberth/example-web:1.1"


def test_a_second_apply_changes_nothing_and_lists_containers_once(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a"), "apps/b.yaml": app_yaml("b", replicas=2)})
    apply(git_repo)
    before = ids(clean_engine)
    runtime = DockerRuntime(source="tests", grace_seconds=2)
    runtime.client.ping()
    runtime.calls.clear()

    result = apply(git_repo, runtime)

    assert result.plan.is_noop
    assert ids(clean_engine) == before
    assert dict(runtime.calls) == {"GET /containers/json": 1}


def test_a_replace_stops_the_old_container_once_then_removes_it(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    apply(git_repo)
    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"ROUND": "2"})})
    runtime = DockerRuntime(source="tests", grace_seconds=2)
    runtime.client.ping()
    runtime.calls.clear()

    [replace] = apply(git_repo, runtime).plan.changes

    assert replace.kind.value == "replace"
    assert runtime.calls["POST /containers/{id}/stop"] == 1
    removes = [n for call, n in runtime.calls.items() if call.startswith("DELETE /containers/")]
    assert removes == [1]


def test_the_runtime_that_created_a_container_stops_it_without_inspecting_it_first(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    runtime = DockerRuntime(source="tests", grace_seconds=2)
    runtime.client.ping()
    runtime.calls.clear()
    [create] = apply(git_repo, runtime).plan.changes
    # create, start, one inspect after the start (none after the create, none for health:
    # the start's own inspect says it has no health check)
    assert runtime.calls["POST /containers/create"] == 1
    assert runtime.calls["GET /containers/{id}/json"] == 1
    [container] = clean_engine.containers.list(filters={"label": "gitberth.app=web"})
    runtime.calls.clear()

    runtime.stop_container(container.id)

    assert dict(runtime.calls) == {"POST /containers/{id}/stop": 1}
    container.reload()
    assert container.attrs["Config"]["StopTimeout"] == 2
    assert container.status == "exited"


def test_the_health_gate_asks_a_new_containers_port_at_its_own_address(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    runtime = DockerRuntime(source="tests", grace_seconds=2)
    apply(git_repo, runtime)
    container = clean_engine.containers.get("web-1")

    condition = runtime.condition(container.id)

    network = container.attrs["NetworkSettings"]["Networks"]
    assert condition.container_addresses == tuple(n["IPAddress"] for n in network.values())
    assert condition.container_port == 8080
    assert port_answers(condition)
    # The answer is the container's own: asked at a port nothing listens on inside it, it is
    # a no, though the published port (still given) leads to the server.
    assert not port_answers(dataclasses.replace(condition, container_port=8081))


def test_a_container_from_before_a_restart_is_stopped_with_its_own_timeout(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    apply(git_repo, DockerRuntime(source="tests", grace_seconds=2))
    [container] = clean_engine.containers.list(filters={"label": "gitberth.app=web"})
    restarted = DockerRuntime(source="tests", grace_seconds=30)  # knows nothing of it
    restarted.client.ping()
    restarted.calls.clear()
    started = time.monotonic()

    restarted.stop_container(container.id)

    assert restarted.calls["GET /containers/{id}/json"] == 1  # reads its StopTimeout
    assert restarted.calls["POST /containers/{id}/stop"] == 1
    assert time.monotonic() - started < 25  # its own 2 s, not the new --grace of 30 s


def test_an_uncommitted_edit_is_not_applied(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/a.yaml": app_yaml("a", env={"MODE": "committed"})})
    git_repo.write("apps/a.yaml", app_yaml("a", env={"MODE": "edited"}))
    git_repo.write("apps/b.yaml", app_yaml("b"))

    apply(git_repo)

    assert sorted(ids(clean_engine)) == ["a-1"]
    assert "MODE=committed" in clean_engine.containers.get("a-1").attrs["Config"]["Env"]


def test_a_broken_manifest_is_reported_and_the_good_change_beside_it_applied(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/good.yaml": app_yaml("good"), "apps/bad.yaml": app_yaml("bad")})
    apply(git_repo)
    bad_before = ids(clean_engine)["bad-1"]

    git_repo.commit(
        {
            "apps/good.yaml": app_yaml("good", env={"NEW": "1"}),
            "apps/bad.yaml": "name: bad\nimage: gitberth/example-web:1.0\nport: 99999\n",
        }
    )
    result = apply(git_repo)

    assert not result.ok
    bad = result.apps["bad"]
    assert bad.status is AppStatus.INVALID
    assert "apps/bad.yaml:3:7: port:" in bad.message
    assert ids(clean_engine)["bad-1"] == bad_before
    assert "NEW=1" in clean_engine.containers.get("good-1").attrs["Config"]["Env"]


def test_removing_a_file_prunes_only_its_containers(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/keep.yaml": app_yaml("keep"), "apps/gone.yaml": app_yaml("gone")})
    apply(git_repo)
    kept = ids(clean_engine)["keep-1"]

    git_repo.commit(remove=("apps/gone.yaml",))
    result = apply(git_repo)

    assert ids(clean_engine) == {"keep-1": kept}
    [remove] = result.plan.changes
    assert (remove.kind, remove.reason) == (ActionKind.REMOVE, "app removed from Git")


def test_scaling_three_replicas_down_to_one(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web", replicas=3)})
    apply(git_repo)
    first = ids(clean_engine)["web-1"]
    git_repo.commit({"apps/web.yaml": app_yaml("web", replicas=1)})

    result = apply(git_repo)

    assert ids(clean_engine) == {"web-1": first}
    assert [a.reason for a in result.plan.changes] == [
        "replica 2 no longer desired",
        "replica 3 no longer desired",
    ]


def test_a_foreign_container_is_never_touched_even_when_its_name_clashes(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    foreign = clean_engine.containers.run(
        "gitberth/example-web:1.0", name="clash-1", detach=True, labels={TEST_LABEL: "1"}
    )
    git_repo.commit({"apps/clash.yaml": app_yaml("clash"), "apps/fine.yaml": app_yaml("fine")})

    result = apply(git_repo)

    assert result.apps["clash"].status is AppStatus.FAILED
    assert (
        "name is taken by a container this source does not manage" in result.apps["clash"].message
    )
    assert result.apps["fine"].status is AppStatus.APPLIED
    foreign.reload()
    assert foreign.status == "running"
    assert foreign.labels == {TEST_LABEL: "1"}


def test_an_image_that_cannot_be_pulled_fails_only_its_app(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    # A registry on a loopback port where nothing listens: the pull fails at once, offline.
    git_repo.commit(
        {
            "apps/ghost.yaml": app_yaml("ghost", image="127.0.0.1:9/gitberth/does-not-exist:9"),
            "apps/real.yaml": app_yaml("real"),
        }
    )
    result = apply(git_repo)
    assert result.apps["ghost"].status is AppStatus.FAILED
    assert result.apps["ghost"].code == "image_pull_failed"
    assert "pull 127.0.0.1:9/gitberth/does-not-exist:9" in result.apps["ghost"].message
    assert sorted(ids(clean_engine)) == ["real-1"]


def test_an_app_referencing_secrets_is_blocked_without_a_store_not_run_without_them(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/api.yaml": app_yaml("api", extra="envFrom: [db-creds]\n")})
    result = apply(git_repo)
    assert result.apps["api"].status is AppStatus.BLOCKED
    assert "db-creds" in result.apps["api"].message
    assert ids(clean_engine) == {}


def test_a_manifest_that_is_not_utf8_is_reported_by_name_and_holds_only_its_app(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/good.yaml": app_yaml("good")})
    (git_repo.path / "apps" / "latin.yaml").write_bytes(b"name: latin\nimage: caf\xe9\n")
    git_repo.repo.index.add(["apps/latin.yaml"])
    git_repo.repo.index.commit("a latin-1 file")

    result = apply(git_repo)

    assert result.apps["latin"].status is AppStatus.INVALID
    assert result.apps["latin"].message == "apps/latin.yaml: the file is not UTF-8 text"
    assert result.apps["good"].status is AppStatus.APPLIED
