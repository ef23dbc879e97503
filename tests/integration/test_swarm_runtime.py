"""The Swarm runtime on a real single-node swarm: services from manifests, scaling as an update,
secret versions that update exactly their consumers, Swarm's own rollback shown Degraded, a
prune that touches only this source's services, secrets and networks, and a cheap no-op pass."""

from __future__ import annotations

import logging
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from gitberth.core.sync_status import SyncState, app_standing
from gitberth.reconciler import AppStatus, ReconcileResult, reconcile_once
from gitberth.runtime.swarm import SwarmRuntime
from gitberth.secrets.store import SecretStore
from gitberth.source import open_repo, read_revision
from gitberth.spec_ledger import SpecLedger
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.secretstore import open_store
from tests.support.swarm import connect
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

SENTINEL = "sentinel-5b0e2c71-swarm-do-not-leak"
QUIET = "command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']\n"


@pytest.fixture
def state(tmp_path: Path) -> tuple[SecretStore, SpecLedger, Path]:
    store, db = open_store(tmp_path / "state")
    return store, SpecLedger(db), tmp_path / "state"


def apply(
    repo: GitRepo,
    client: docker.DockerClient,
    state: tuple[SecretStore, SpecLedger, Path] | None = None,
    *,
    source: str = "tests",
    dry_run: bool = False,
) -> tuple[ReconcileResult, SwarmRuntime]:
    runtime = SwarmRuntime(client, source=source, grace_seconds=2, rollout_timeout=60)
    result = reconcile_once(
        revision=read_revision(open_repo(repo.path)),
        runtime=runtime,
        secrets=state[0] if state else None,
        known_specs=state[1] if state else None,
        dry_run=dry_run,
    )
    return result, runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service(client: docker.DockerClient, name: str) -> dict[str, Any]:
    return dict(client.api.inspect_service(name))


def running_tasks(client: docker.DockerClient, name: str) -> dict[int, str]:
    """Slot -> task id of the tasks that run now."""
    try:
        tasks = client.api.tasks(filters={"service": name, "desired-state": "running"})
    except docker.errors.NotFound:
        return {}  # not created yet
    return {
        int(t["Slot"]): str(t["ID"])
        for t in tasks
        if t["Status"]["State"] == "running" and t["Spec"]["ContainerSpec"]
    }


def task_container(client: docker.DockerClient, name: str) -> Any:
    def find() -> Any:
        rows = client.containers.list(filters={"label": f"com.docker.swarm.service.name={name}"})
        return rows[0] if rows else None

    return wait_until(find, timeout=30)


def env_of(client: docker.DockerClient, name: str) -> dict[str, str]:
    spec = service(client, name)["Spec"]["TaskTemplate"]["ContainerSpec"]
    return dict(pair.split("=", 1) for pair in spec.get("Env") or [])


class TestServicesFromManifests:
    def test_a_manifest_service_becomes_one_labelled_service_reachable_on_its_port(
        self, git_repo: GitRepo, clean_swarm: docker.DockerClient
    ) -> None:
        port = free_port()  # fixed: engines side by side share the ephemeral port range
        git_repo.commit(
            {
                "apps/hello.yaml": app_yaml(
                    "hello", env={"GREETING": "hi"}, extra=f"hostPort: {port}\n"
                )
            }
        )

        result, _ = apply(git_repo, clean_swarm)

        assert result.ok, result.apps["hello"].message
        [action] = result.plan.changes
        assert (action.kind.value, action.container_name) == ("create", "hello")
        spec = service(clean_swarm, "hello")["Spec"]
        labels = spec["Labels"]
        assert labels["gitberth.app"] == "hello" and labels["gitberth.source"] == "tests"
        assert labels["gitberth.revision"] == result.revision
        assert spec["Mode"]["Replicated"]["Replicas"] == 1
        assert spec["UpdateConfig"]["Order"] == "stop-first", "a fixed host port"
        assert spec["UpdateConfig"]["FailureAction"] == "rollback"
        assert env_of(clean_swarm, "hello")["GREETING"] == "hi"
        [network] = spec["TaskTemplate"]["Networks"]
        assert network["Aliases"] == ["hello"]
        overlay = clean_swarm.api.inspect_network("gitberth-hello")
        assert overlay["Driver"] == "overlay" and overlay["Attachable"] is True
        assert overlay["Labels"]["gitberth.source"] == "tests"
        assert len(running_tasks(clean_swarm, "hello")) == 1
        [observed] = result.apps["hello"].containers
        assert {t.state for t in observed.tasks} == {"running"}
        assert observed.url == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(observed.url, timeout=5) as response:
            assert response.status == 200

    def test_scaling_updates_the_service_and_keeps_its_running_tasks(
        self, git_repo: GitRepo, clean_swarm: docker.DockerClient
    ) -> None:
        git_repo.commit({"apps/app.yaml": app_yaml("app", port=None, extra=QUIET)})
        apply(git_repo, clean_swarm)
        before = running_tasks(clean_swarm, "app")
        service_id = service(clean_swarm, "app")["ID"]

        git_repo.commit({"apps/app.yaml": app_yaml("app", port=None, replicas=3, extra=QUIET)})
        result, _ = apply(git_repo, clean_swarm)

        assert [a.reason for a in result.plan.changes] == ["replicas 1 -> 3"]
        assert service(clean_swarm, "app")["ID"] == service_id, "a scale is not a new service"
        after = running_tasks(clean_swarm, "app")
        assert len(after) == 3 and after[1] == before[1], "the running task is kept"

    def test_a_changed_spec_rolls_the_tasks_in_place(
        self,
        git_repo: GitRepo,
        clean_swarm: docker.DockerClient,
        state: tuple[SecretStore, SpecLedger, Path],
    ) -> None:
        git_repo.commit({"apps/app.yaml": app_yaml("app", port=None, env={"V": "1"}, extra=QUIET)})
        apply(git_repo, clean_swarm, state)
        service_id = service(clean_swarm, "app")["ID"]

        git_repo.commit({"apps/app.yaml": app_yaml("app", port=None, env={"V": "2"}, extra=QUIET)})
        result, _ = apply(git_repo, clean_swarm, state)

        assert result.ok, result.apps["app"].message
        assert [a.reason for a in result.plan.changes] == ["env V changed"]
        assert service(clean_swarm, "app")["ID"] == service_id
        assert env_of(clean_swarm, "app")["V"] == "2"
        assert apply(git_repo, clean_swarm, state)[0].plan.is_noop


class TestSecretsAsSwarmSecrets:
    def test_secret_files_are_versions_mounted_read_only_and_rotation_updates_only_consumers(
        self,
        git_repo: GitRepo,
        clean_swarm: docker.DockerClient,
        state: tuple[SecretStore, SpecLedger, Path],
    ) -> None:
        store = state[0]
        store.put(name="files", app_id=None, data={"CERT": "one"})
        git_repo.commit(
            {
                "apps/user.yaml": app_yaml("user", port=None, extra="secretFiles: [files]\n"),
                "apps/bystander.yaml": app_yaml("bystander", port=None),
            }
        )
        assert apply(git_repo, clean_swarm, state)[0].ok
        [first] = clean_swarm.api.secrets(filters={"label": "gitberth.secret=files"})
        assert first["Spec"]["Name"].startswith("user-files-")
        reference = service(clean_swarm, "user")["Spec"]["TaskTemplate"]["ContainerSpec"][
            "Secrets"
        ][0]
        assert reference["File"]["Name"] == "CERT" and reference["File"]["Mode"] == 0o400
        container = task_container(clean_swarm, "user")
        assert container.exec_run(["cat", "/run/secrets/CERT"]).output == b"one"
        bystander_version = service(clean_swarm, "bystander")["Version"]["Index"]

        store.put(name="files", app_id=None, data={"CERT": "two"})
        result, _ = apply(git_repo, clean_swarm, state)

        assert result.ok, result.apps["user"].message
        [second] = clean_swarm.api.secrets(filters={"label": "gitberth.secret=files"})
        assert second["ID"] != first["ID"], "the unused version is removed"
        assert [(a.container_name, a.reason) for a in result.plan.changes] == [
            (
                "user",
                "file CERT changed (from secret files, shared); "
                f"secret version {second['Spec']['Name']}",
            )
        ], "the plan names the version it creates"
        assert service(clean_swarm, "bystander")["Version"]["Index"] == bystander_version

        def new_file() -> bool:
            container = task_container(clean_swarm, "user")
            return container.exec_run(["cat", "/run/secrets/CERT"]).output == b"two"

        wait_until(new_file, timeout=30)

    def test_no_secret_file_value_reaches_labels_specs_plans_logs_or_the_state_dir(
        self,
        git_repo: GitRepo,
        clean_swarm: docker.DockerClient,
        state: tuple[SecretStore, SpecLedger, Path],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        state[0].put(name="tls", app_id=None, data={"KEY": SENTINEL})
        git_repo.commit({"apps/app.yaml": app_yaml("app", port=None, extra="secretFiles: [tls]\n")})

        result, _ = apply(git_repo, clean_swarm, state)

        assert result.ok
        assert (
            task_container(clean_swarm, "app").exec_run(["cat", "/run/secrets/KEY"]).output
            == SENTINEL.encode()
        )
        seen = [
            repr(service(clean_swarm, "app")),
            repr(clean_swarm.api.secrets()),
            repr(clean_swarm.api.networks()),
            repr(clean_swarm.api.tasks()),
            "\n".join(a.describe() for a in result.plan.actions),
            repr(result),
            caplog.text,
        ]
        for text in seen:
            assert SENTINEL not in text
        for path in state[2].rglob("*"):
            if path.is_file():
                assert SENTINEL.encode() not in path.read_bytes(), path


class TestRollbackAndStatus:
    def test_a_failing_update_is_rolled_back_by_swarm_and_shown_degraded(
        self, git_repo: GitRepo, clean_swarm: docker.DockerClient
    ) -> None:
        healthy = 'healthcheck: {command: ["true"], interval: 1s, retries: 1}\n'
        failing = 'healthcheck: {command: ["false"], interval: 1s, timeout: 1s, retries: 1}\n'
        git_repo.commit({"apps/app.yaml": app_yaml("app", port=None, extra=QUIET + healthy)})
        first, _ = apply(git_repo, clean_swarm)
        assert first.ok
        good_hash = service(clean_swarm, "app")["Spec"]["Labels"]["gitberth.spec-hash"]
        before = running_tasks(clean_swarm, "app")

        git_repo.commit({"apps/app.yaml": app_yaml("app", port=None, extra=QUIET + failing)})
        result, _ = apply(git_repo, clean_swarm)

        report = result.apps["app"]
        assert report.status is AppStatus.FAILED and report.code == "rollout_failed"
        assert "rolled the update of app back" in (report.message or "")
        shown = app_standing(report, revision=result.revision, previous=None, now=time.time())
        assert shown.sync is SyncState.DEGRADED
        spec = service(clean_swarm, "app")["Spec"]
        assert spec["Labels"]["gitberth.spec-hash"] == good_hash, "Swarm restored the old spec"
        assert running_tasks(clean_swarm, "app") == before, "the old task kept running"

        observed, _ = apply(git_repo, clean_swarm, dry_run=True)
        [seen] = observed.observed
        assert seen.health == "unhealthy", "a rolled-back service stays Degraded when observed"


class TestPruneAndIsolation:
    def test_prune_removes_only_this_sources_services_secrets_and_networks(
        self,
        git_repo: GitRepo,
        tmp_path: Path,
        clean_swarm: docker.DockerClient,
        state: tuple[SecretStore, SpecLedger, Path],
    ) -> None:
        state[0].put(name="files", app_id=None, data={"CERT": "c"})
        git_repo.commit(
            {
                "apps/gone.yaml": app_yaml("gone", port=None, extra="secretFiles: [files]\n"),
                "apps/kept.yaml": app_yaml("kept", port=None),
            }
        )
        apply(git_repo, clean_swarm, state)
        other = GitRepo(tmp_path / "other")
        other.commit({"apps/theirs.yaml": app_yaml("theirs", port=None)})
        assert apply(other, clean_swarm, source="other-source")[0].ok

        git_repo.commit({"apps/kept.yaml": app_yaml("kept", port=None)}, remove=("apps/gone.yaml",))
        result, _ = apply(git_repo, clean_swarm, state)

        assert [(a.kind.value, a.container_name) for a in result.plan.changes] == [
            ("remove", "gone")
        ]
        names = {s["Spec"]["Name"] for s in clean_swarm.api.services()}
        assert names == {"kept", "theirs"}
        assert not clean_swarm.api.secrets(filters={"label": "gitberth.app=gone"})
        assert not clean_swarm.api.networks(names=["gitberth-gone"])
        assert clean_swarm.api.networks(names=["gitberth-theirs"])

    def test_a_no_op_pass_over_300_services_makes_two_engine_calls(
        self, git_repo: GitRepo, clean_swarm: docker.DockerClient
    ) -> None:
        services = "".join(
            f"  - name: s{i}\n    image: gitberth/example-web:1.0\n    replicas: 0\n"
            for i in range(10)
        )
        git_repo.commit(
            {f"apps/app{n}.yaml": f"name: app{n}\nservices:\n{services}" for n in range(30)}
        )
        created, _ = apply(git_repo, clean_swarm)
        assert created.ok and len(created.plan.changes) == 300

        result, runtime = apply(git_repo, clean_swarm)

        assert result.plan.is_noop
        assert sum(runtime.calls.values()) <= 2, runtime.calls


class TestSelfHeal:
    def test_a_service_removed_or_scaled_by_hand_is_restored_by_the_event_it_causes(
        self, git_repo: GitRepo, tmp_path: Path, clean_swarm: docker.DockerClient
    ) -> None:
        from gitberth.database import open_database
        from gitberth.loop import Loop, LoopSettings
        from gitberth.state import StateDir
        from gitberth.status import StatusStore

        git_repo.commit({"apps/app.yaml": app_yaml("app", port=None, replicas=2, extra=QUIET)})
        db = open_database(StateDir(tmp_path / "state"))
        runtime = SwarmRuntime(clean_swarm, source="tests", grace_seconds=2, connect=connect)
        settings = LoopSettings(repo=str(git_repo.path), state_dir=tmp_path / "state", interval=600)
        loop = Loop(
            settings=settings,
            runtime=runtime,
            status=StatusStore(db),
        )
        loop.start()
        try:

            def synced_with_two(after: float) -> bool:
                state = loop.status.app("app")
                return (
                    state is not None
                    and state.sync is SyncState.SYNCED
                    and state.updated_at > after
                    and len(running_tasks(clean_swarm, "app")) == 2
                )

            wait_until(lambda: synced_with_two(0.0), timeout=60)
            first_id = service(clean_swarm, "app")["ID"]

            removed_at = time.time()
            clean_swarm.api.remove_service("app")

            wait_until(lambda: synced_with_two(removed_at), timeout=60)
            assert service(clean_swarm, "app")["ID"] != first_id, "created again"
            current = service(clean_swarm, "app")
            clean_swarm.api.update_service(
                current["ID"],
                version=current["Version"]["Index"],
                task_template=current["Spec"]["TaskTemplate"],
                name="app",
                labels=current["Spec"]["Labels"],
                mode={"Replicated": {"Replicas": 1}},
            )
            wait_until(
                lambda: service(clean_swarm, "app")["Spec"]["Mode"]["Replicated"]["Replicas"] == 2,
                timeout=60,
            )
        finally:
            loop.stop()
            db.close()


class TestServiceLogs:
    def test_the_logs_of_every_task_are_read_and_followed_through_the_manager(
        self, git_repo: GitRepo, clean_swarm: docker.DockerClient
    ) -> None:
        talk = (
            'command: [sh, -c, \'echo early-line; trap "exit 0" TERM; sleep 3; echo late-line; '
            "sleep 100000 & wait']\n"
        )
        git_repo.commit({"apps/talk.yaml": app_yaml("talk", port=None, extra=talk)})
        result, _ = apply(git_repo, clean_swarm)
        assert result.ok, result.apps["talk"].message
        logs = SwarmRuntime(clean_swarm, source="tests", connect=connect).logs

        [target] = logs.targets("talk")
        assert (target.name, target.service) == ("talk", "talk")
        assert logs.targets("talk", service="other") == []
        read = wait_until(lambda: logs.read("talk", tail=10), timeout=30)
        assert read[0].line == "early-line" and read[0].container == "talk" and read[0].time

        follower = logs.follow("talk", tail=10)
        try:
            seen = [follower.lines.get(timeout=30) for _ in range(2)]
        finally:
            follower.close()
        assert [line.line for line in seen if line is not None] == ["early-line", "late-line"]
        # the service prints nothing more: only closing its stream can end the reader
        wait_until(lambda: not follower.alive(), timeout=10)
