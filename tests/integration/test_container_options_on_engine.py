"""Container options on the real engine, proven with ``docker inspect``: restart policy, limits,
labels, process settings, several ports on the addresses asked, no-new-privileges; and the
manifest's HTTP health check gating new containers and replacements."""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import docker
import pytest

from gitberth.core.container_options import PublishPolicy
from gitberth.core.sync_status import AppHealth, SyncState, app_standing
from gitberth.reconciler import AppStatus, ReconcileResult, reconcile_once
from gitberth.runtime.docker import DockerRuntime
from gitberth.source import open_repo, read_revision
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

EVERYTHING = """\
name: web
image: gitberth/example-web:1.0
ports:
  - {container: 8080, host: 18941, address: 127.0.0.2}
  - {container: 8081}
env: {PORT: "8080"}
healthcheck: {http: /, interval: 300ms, timeout: 1s, retries: 3}
restart: always
resources: {memory: 64Mi, cpus: 0.5, pids: 100}
labels: {traefik.enable: "true", com.example.team: shop}
user: "1000:1000"
workingDir: /www
entrypoint: [/bin/sh]
command: [/serve.sh]
stopSignal: SIGINT
stopGracePeriod: 3s
"""

CHECKED = "healthcheck: {http: %s, interval: 300ms, timeout: 1s, retries: 2}\n"


def apply(repo: GitRepo, *, timeout: float = 10.0) -> ReconcileResult:
    runtime = DockerRuntime(source="tests", grace_seconds=2, rollout_timeout=timeout)
    return reconcile_once(revision=read_revision(open_repo(repo.path)), runtime=runtime)


def inspect(client: docker.DockerClient, name: str) -> dict[str, Any]:
    attrs: dict[str, Any] = client.api.inspect_container(name)
    return attrs


def names(client: docker.DockerClient, app: str) -> dict[str, str]:
    rows = client.api.containers(all=True, filters={"label": f"gitberth.app={app}"})
    return {row["Names"][0].lstrip("/"): row["Id"] for row in rows}


def test_every_option_reaches_the_container(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": EVERYTHING})

    result = apply(git_repo)

    assert result.apps["web"].status is AppStatus.APPLIED, result.apps["web"].message
    attrs = inspect(clean_engine, "web-1")
    host, config = attrs["HostConfig"], attrs["Config"]
    assert host["RestartPolicy"]["Name"] == "always"
    assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (64 * 1024**2, 5 * 10**8, 100)
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert config["Labels"]["traefik.enable"] == "true"
    assert config["Labels"]["com.example.team"] == "shop"
    assert config["Labels"]["gitberth.app"] == "web"
    assert (config["User"], config["WorkingDir"]) == ("1000:1000", "/www")
    assert (config["Entrypoint"], config["Cmd"]) == (["/bin/sh"], ["/serve.sh"])
    assert (config["StopSignal"], config["StopTimeout"]) == ("SIGINT", 3)
    assert config["Healthcheck"]["Test"] == [
        "CMD-SHELL",
        "wget -q -O /dev/null http://127.0.0.1:8080/ || exit 1",
    ]
    bindings = host["PortBindings"]
    assert bindings["8080/tcp"] == [{"HostIp": "127.0.0.2", "HostPort": "18941"}]
    assert bindings["8081/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": ""}]
    assert attrs["State"]["Health"]["Status"] == "healthy"  # a new container is waited for
    assert urllib.request.urlopen("http://127.0.0.2:18941/", timeout=5).status == 200
    [container] = result.apps["web"].containers
    assert container.health == "healthy"


def test_a_plain_manifest_gets_the_safe_defaults(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})

    apply(git_repo)

    host = inspect(clean_engine, "web-1")["HostConfig"]
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert host["PidsLimit"] == 1024
    assert host["SecurityOpt"] == ["no-new-privileges"]
    bindings = host["PortBindings"]["8080/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"]


def test_the_publish_address_of_the_server_applies_to_ports_without_one(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web")})
    runtime = DockerRuntime(source="tests", grace_seconds=2, publish_address="127.0.0.3")

    reconcile_once(
        revision=read_revision(open_repo(git_repo.path)),
        runtime=runtime,
        publish=PublishPolicy(default_address="127.0.0.3"),
    )

    bindings = inspect(clean_engine, "web-1")["HostConfig"]["PortBindings"]["8080/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.3"]


def test_a_passing_http_check_gates_a_replacement_in(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "1"}, extra=CHECKED % "/")})
    apply(git_repo)
    old = names(clean_engine, "web")["web-1"]

    git_repo.commit({"apps/web.yaml": app_yaml("web", env={"V": "2"}, extra=CHECKED % "/")})
    result = apply(git_repo)

    assert result.apps["web"].status is AppStatus.APPLIED, result.apps["web"].message
    now = names(clean_engine, "web")
    assert list(now) == ["web-1"] and now["web-1"] != old
    assert inspect(clean_engine, "web-1")["State"]["Health"]["Status"] == "healthy"


def test_a_failing_http_check_rolls_back_and_keeps_the_old_container_running(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web", extra=CHECKED % "/")})
    apply(git_repo)
    before = names(clean_engine, "web")

    git_repo.commit({"apps/web.yaml": app_yaml("web", extra=CHECKED % "/missing")})
    result = apply(git_repo)

    report = result.apps["web"]
    assert (report.status, report.code) == (AppStatus.FAILED, "rollout_failed")
    assert "health check failed" in report.message and "rolled back" in report.message
    assert "404 Not Found" in report.message  # the check's own last output
    assert names(clean_engine, "web") == before
    assert inspect(clean_engine, "web-1")["State"]["Running"] is True
    state = app_standing(report, revision=result.revision, previous=None, now=0.0)
    assert state.sync is SyncState.DEGRADED
    assert state.error is not None and "404 Not Found" in state.error.message


def test_a_new_app_whose_check_fails_is_reported_not_synced(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"apps/web.yaml": app_yaml("web", extra=CHECKED % "/missing")})

    result = apply(git_repo)

    report = result.apps["web"]
    assert (report.status, report.code) == (AppStatus.FAILED, "unhealthy")
    assert "404 Not Found" in report.message
    assert [(c.name, c.health) for c in report.containers] == [("web-1", "unhealthy")]
    state = app_standing(report, revision=result.revision, previous=None, now=0.0)
    assert (state.sync, state.health) == (SyncState.DEGRADED, AppHealth.UNHEALTHY)

    # The next pass changes nothing, and status still comes from the engine's health state.
    again = apply(git_repo)
    assert again.apps["web"].status is AppStatus.UNCHANGED
    later = app_standing(again.apps["web"], revision=again.revision, previous=state, now=1.0)
    assert (later.sync, later.health) == (SyncState.DEGRADED, AppHealth.UNHEALTHY)
    assert [c.health for c in later.containers] == ["unhealthy"]


def test_a_container_that_turns_unhealthy_later_shows_in_status(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    check = (
        "healthcheck: {command: [sh, -c, 'test -e /ok || { echo no /ok here; exit 1; }'], "
        "interval: 300ms, retries: 1}\n"
    )
    command = "command: [sh, -c, 'touch /ok; trap \"exit 0\" TERM; sleep 100000 & wait']\n"
    git_repo.commit({"apps/job.yaml": app_yaml("job", port=None, extra=check + command)})
    apply(git_repo)
    assert inspect(clean_engine, "job-1")["State"]["Health"]["Status"] == "healthy"

    clean_engine.api.exec_start(clean_engine.api.exec_create("job-1", ["rm", "/ok"]))

    def unhealthy() -> bool:
        observed = DockerRuntime(source="tests").observe()
        return [c.health for c in observed] == ["unhealthy"]

    wait_until(unhealthy, timeout=10)
    result = apply(git_repo)
    report = result.apps["job"]
    assert report.status is AppStatus.UNCHANGED
    state = app_standing(report, revision=result.revision, previous=None, now=0.0)
    assert (state.sync, state.health) == (SyncState.DEGRADED, AppHealth.UNHEALTHY)
    assert state.error is not None
    assert state.error.message == "job-1 is unhealthy (last output: no /ok here)"


def test_stop_uses_the_container_grace_period(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    ignore_term = "command: [sh, -c, 'trap \"\" TERM; sleep 100000 & wait']\n"
    extra = ignore_term + "stopGracePeriod: 1s\n"
    git_repo.commit({"apps/web.yaml": app_yaml("web", port=None, extra=extra)})
    apply(git_repo)
    runtime = DockerRuntime(source="tests", grace_seconds=30)
    [container] = runtime.observe()

    started = time.monotonic()
    runtime.stop_container(container.id)

    assert time.monotonic() - started < 10  # 1s grace, not the runtime's 30s


def test_the_loop_holds_an_app_that_asks_for_host_privileges(
    git_repo: GitRepo, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit(
        {
            "apps/web.yaml": app_yaml("web", extra="privileged: true\n"),
            "apps/ok.yaml": app_yaml("ok"),
        }
    )

    result = apply(git_repo)

    report = result.apps["web"]
    assert (report.status, report.code) == (AppStatus.INVALID, "invalid_manifest")
    assert report.message.startswith(
        "apps/web.yaml:4:1: privileged: privileged containers are refused"
    )
    assert "root on the host" in report.message
    assert list(names(clean_engine, "web")) == []
    assert result.apps["ok"].status is AppStatus.APPLIED
