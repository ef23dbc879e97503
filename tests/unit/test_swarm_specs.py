"""The pure Swarm service spec builder and the secret version names: what the manifest says
becomes the engine's ServiceSpec, and a secret value never appears outside the create call."""

from __future__ import annotations

from pydantic import SecretStr

from gitberth.core.manifests import parse_manifest
from gitberth.core.resolve import resolve_app
from gitberth.core.resolved import EnvSource, Origin, ResolvedService, ResolvedValue
from gitberth.core.secret_versions import MAX_NAME, version_name
from gitberth.runtime.swarm_secrets import numeric_owner, secret_reference, versions_for
from gitberth.runtime.swarm_specs import service_spec

SENTINEL = "sentinel-9a4f-never-in-a-spec"


def resolved(text: str, index: int = 0) -> ResolvedService:
    return resolve_app(parse_manifest(text, file="apps/x.yaml"), secrets={}).services[index]


def spec_of(text: str, index: int = 0, **kwargs: object) -> dict:  # type: ignore[type-arg]
    return service_spec(resolved(text, index), revision="abc", source="src", **kwargs)  # type: ignore[arg-type]


def with_file(service: ResolvedService, key: str, value: str, fingerprint: str) -> ResolvedService:
    item = ResolvedValue(SecretStr(value), Origin(EnvSource.SECRET, "tls", None), fingerprint)
    return ResolvedService(
        spec=service.spec, env=service.env, files={key: item}, spec_hash=service.spec_hash
    )


def test_a_service_carries_the_ownership_labels_replicas_and_env() -> None:
    spec = spec_of("name: web\nimage: x:1\nreplicas: 3\nenv: {A: b}\nlabels: {team: core}\n")
    assert spec["Name"] == "web"
    assert spec["Labels"]["gitberth.app"] == "web"
    assert spec["Labels"]["gitberth.source"] == "src"
    assert spec["Labels"]["gitberth.revision"] == "abc"
    assert spec["Labels"]["team"] == "core"
    assert spec["Mode"] == {"Replicated": {"Replicas": 3}}
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert container["Env"] == ["A=b"]
    assert not any(key.startswith("gitberth.app") for key in container["Labels"]), (
        "task containers never look like a Docker runtime's own"
    )


def test_command_and_entrypoint_map_to_swarms_args_and_command() -> None:
    container = spec_of("name: web\nimage: x\ncommand: [serve, -v]\nentrypoint: [/bin/app]\n")[
        "TaskTemplate"
    ]["ContainerSpec"]
    assert container["Args"] == ["serve", "-v"]
    assert container["Command"] == ["/bin/app"]


def test_each_service_joins_its_apps_overlay_by_service_name_and_shared_ones_by_prefix() -> None:
    text = "name: shop\nservices:\n  - {name: web, image: x, networks: [shared-db]}\n"
    assert spec_of(text)["TaskTemplate"]["Networks"] == [
        {"Target": "gitberth-shop", "Aliases": ["web"]},
        {"Target": "shared-db", "Aliases": ["shop-web"]},
    ]


def test_named_volumes_are_the_apps_own_labelled_volumes() -> None:
    [mount] = spec_of(
        "name: db\nimage: x\nrollout: stopFirst\nvolumes: [{name: data, path: /data}]\n"
    )["TaskTemplate"]["ContainerSpec"]["Mounts"]
    assert (mount["Type"], mount["Source"], mount["Target"]) == ("volume", "db_data", "/data")
    assert mount["VolumeOptions"]["Labels"]["gitberth.managed"] == "true"


def test_ports_are_published_in_host_mode_on_the_fixed_port_or_one_the_node_picks() -> None:
    assert spec_of("name: web\nimage: x\nport: 8080\nhostPort: 18080\n")["EndpointSpec"][
        "Ports"
    ] == [{"Protocol": "tcp", "TargetPort": 8080, "PublishMode": "host", "PublishedPort": 18080}]
    assert spec_of("name: web\nimage: x\nport: 8080\n")["EndpointSpec"]["Ports"] == [
        {"Protocol": "tcp", "TargetPort": 8080, "PublishMode": "host"}
    ]


def test_limits_restart_policy_and_health_check_come_from_the_manifest() -> None:
    spec = spec_of(
        "name: web\nimage: x\nport: 80\nrestart: onFailure\n"
        "resources: {memory: 64Mi, cpus: 0.5, pids: 32}\n"
        "healthcheck: {http: /healthz, interval: 3s, retries: 2}\n"
    )
    template = spec["TaskTemplate"]
    assert template["Resources"]["Limits"] == {
        "Pids": 32,
        "MemoryBytes": 64 * 1024 * 1024,
        "NanoCPUs": 500_000_000,
    }
    assert template["RestartPolicy"]["Condition"] == "on-failure"
    check = template["ContainerSpec"]["Healthcheck"]
    assert check["Interval"] == 3_000_000_000 and check["Retries"] == 2
    assert spec["UpdateConfig"]["Monitor"] == 6_000_000_000, "two check intervals"


def test_swarm_itself_gates_and_rolls_back_updates_start_first() -> None:
    update = spec_of("name: web\nimage: x\n")["UpdateConfig"]
    assert update["Order"] == "start-first"
    assert update["FailureAction"] == "rollback"
    assert update["Parallelism"] == 1
    rollback = spec_of("name: web\nimage: x\n")["RollbackConfig"]
    assert rollback["FailureAction"] == "pause"


def test_stop_first_rollout_and_a_fixed_host_port_update_stop_first() -> None:
    assert spec_of("name: web\nimage: x\nrollout: stopFirst\n")["UpdateConfig"]["Order"] == (
        "stop-first"
    )
    assert spec_of("name: web\nimage: x\nport: 80\nhostPort: 8080\n")["UpdateConfig"]["Order"] == (
        "stop-first"
    )


def test_secret_versions_are_named_by_fingerprint_and_never_hold_the_value() -> None:
    base = resolved("name: api\nimage: x\n")
    [one] = versions_for(with_file(base, "TLS_KEY", SENTINEL, "fp-one"), source="src")
    [two] = versions_for(with_file(base, "TLS_KEY", SENTINEL + "2", "fp-two"), source="src")
    assert one.name.startswith("api-tls-") and len(one.name) == len("api-tls-") + 8
    assert one.name != two.name, "a new value is a new version"
    assert one.labels["gitberth.secret"] == "tls" and one.labels["gitberth.source"] == "src"
    reference = secret_reference(one, secret_id="id1", uid="0")
    assert reference["File"] == {"Name": "TLS_KEY", "UID": "0", "GID": "0", "Mode": 0o400}
    spec = service_spec(
        with_file(base, "TLS_KEY", SENTINEL, "fp-one"),
        revision="r",
        source="src",
        secrets=[reference],
    )
    assert SENTINEL not in repr(spec) + repr(one.labels) + one.name


def test_long_names_are_shortened_within_swarms_limit_keeping_the_fingerprint() -> None:
    name = version_name(app="a" * 63, secret="s" * 63, fingerprint="0123abcd")
    assert len(name) <= MAX_NAME and name.endswith("-0123abcd")
    other = version_name(app="a" * 63, secret="s" * 62 + "t", fingerprint="0123abcd")
    assert other != name


def test_secret_files_belong_to_a_numeric_user_else_root() -> None:
    assert numeric_owner("1000:1000") == "1000"
    assert numeric_owner("www-data") == "0"
    assert numeric_owner(None) == "0"


def test_a_port_with_mode_ingress_uses_swarms_routing_mesh() -> None:
    [port] = spec_of("name: web\nimage: x\nports:\n  - {container: 80, mode: ingress}\n")[
        "EndpointSpec"
    ]["Ports"]
    assert port == {"Protocol": "tcp", "TargetPort": 80, "PublishMode": "ingress"}
