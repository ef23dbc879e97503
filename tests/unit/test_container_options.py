"""Container options in manifests: health check, restart, resources, labels, process, ports.

Each field is read as compose writes it, refused with file, line and field when wrong, enters
the spec hash, and is named in plan reasons and in the review.
"""

from __future__ import annotations

import pytest

from gitberth.core import option_changes, option_fields
from gitberth.core.errors import ManifestErrors
from gitberth.core.manifest_fast_path import fast_manifest
from gitberth.core.manifests import load_manifests, parse_manifest
from gitberth.core.models import AppManifest, ServiceSpec
from gitberth.core.observed import ContainerState
from gitberth.core.option_fields import DEFAULT_PIDS_LIMIT, RestartPolicy
from gitberth.core.plan import DesiredState, describe_changes, plan
from gitberth.core.quantities import format_bytes, format_duration, parse_bytes, parse_duration
from gitberth.core.resolve import resolve_app
from gitberth.core.review import review
from gitberth.defaults import DEFAULT_PUBLISH_ADDRESS
from gitberth.deploy import manifest_yaml
from tests.unit.fakes import container

FULL = """\
name: web
image: acme/web:1.0
ports:
  - {container: 8080, host: 18080, address: 0.0.0.0}
  - {container: 9090}
healthcheck: {http: /healthz, interval: 2s, timeout: 1s, retries: 3, startPeriod: 5s}
restart: always
resources: {memory: 256Mi, cpus: 0.5, pids: 256}
labels: {traefik.enable: "true"}
user: "1000"
workingDir: /srv
entrypoint: [/bin/sh, -c]
stopSignal: SIGINT
stopGracePeriod: 30s
"""


def manifest(text: str) -> AppManifest:
    return parse_manifest(text, file="apps/web.yaml")


def spec(text: str) -> ServiceSpec:
    return manifest(text).service_specs()[0]


def problems(text: str, *, file: str = "apps/web.yaml") -> list[str]:
    with pytest.raises(ManifestErrors) as caught:
        parse_manifest(text, file=file)
    return [str(p) for p in caught.value.problems]


def hash_of(text: str, *, publish_address: str = DEFAULT_PUBLISH_ADDRESS) -> str:
    app = resolve_app(manifest(text), secrets={}, publish_address=publish_address)
    return app.services[0].spec_hash


# --- durations and sizes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "nanoseconds", "canonical"),
    [
        ("500ms", 500_000_000, "500ms"),
        ("2s", 2_000_000_000, "2s"),
        ("1m30s", 90_000_000_000, "1m30s"),
        ("90s", 90_000_000_000, "1m30s"),
        ("1.5h", 5_400_000_000_000, "1h30m"),
        ("0s", 0, "0s"),
        ("250us", 250_000, "250us"),
    ],
)
def test_durations_read_as_compose_writes_them(text: str, nanoseconds: int, canonical: str) -> None:
    assert parse_duration(text) == nanoseconds
    assert format_duration(nanoseconds) == canonical


@pytest.mark.parametrize("text", ["2x", "s", "", "1m30", "-1s", "1 s", "2d"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text",
    ["25h", "9" * 5000 + "s", "1h" * 30, 10**5000, "9" * 5000, 2**60, 1.5e300],
    ids=["25h", "long-duration", "repeated", "huge-int", "long-size", "2**60", "float"],
)
def test_absurd_amounts_are_refused_without_echoing_them(text: object) -> None:
    parse = parse_bytes if isinstance(text, int) or str(text).isdigit() else parse_duration
    with pytest.raises(ValueError) as caught:
        parse(text)
    assert len(str(caught.value)) < 200


def test_a_duration_without_unit_says_which_unit_to_add() -> None:
    assert problems("name: web\nimage: x\nstopGracePeriod: 10\n") == [
        "apps/web.yaml:3:18: stopGracePeriod: 10 needs a unit: write e.g. 10s "
        "(500ms, 2s and 1m30s work)"
    ]


def test_a_bad_duration_names_file_line_and_field() -> None:
    text = "name: web\nimage: x\nport: 80\nhealthcheck:\n  http: /\n  interval: soon\n"
    assert problems(text) == [
        "apps/web.yaml:6:13: healthcheck.interval: 'soon' is not a duration: write e.g. "
        "500ms, 2s or 1m30s (units ns, us, ms, s, m, h)"
    ]


@pytest.mark.parametrize(
    ("text", "size", "canonical"),
    [("256Mi", 256 * 1024**2, "256Mi"), ("256m", 256 * 1024**2, "256Mi"), ("1g", 1024**3, "1Gi")],
)
def test_memory_sizes_read_as_compose_and_kubernetes_write_them(
    text: str, size: int, canonical: str
) -> None:
    assert parse_bytes(text) == size
    assert format_bytes(size) == canonical


# --- the model --------------------------------------------------------------------------------


def test_defaults_restart_unless_stopped_and_a_pids_limit() -> None:
    options = spec("name: web\nimage: x\n").options
    assert options.restart is RestartPolicy.UNLESS_STOPPED
    assert options.pids == DEFAULT_PIDS_LIMIT == 1024
    assert options.healthcheck is None


def test_every_field_is_read_at_the_top_level_of_a_single_service_app() -> None:
    options = spec(FULL).options
    assert options.restart is RestartPolicy.ALWAYS
    assert (options.memory, options.cpus, options.pids) == (256 * 1024**2, 0.5, 256)
    assert options.labels == (("traefik.enable", "true"),)
    assert (options.user, options.working_dir, options.entrypoint) == (
        "1000",
        "/srv",
        ("/bin/sh", "-c"),
    )
    assert (options.stop_signal, options.stop_grace_ns) == ("SIGINT", 30_000_000_000)
    check = options.healthcheck
    assert check is not None
    assert (check.kind, check.path, check.port) == ("http", "/healthz", 8080)
    assert check.worst_case_seconds == 5 + 3 * (2 + 1)


def test_every_field_is_read_per_service_of_a_multi_service_app() -> None:
    service_part = "\n".join("    " + line for line in FULL.splitlines()[1:])
    text = f"name: shop\nservices:\n  - name: web\n{service_part}\n  - name: db\n    image: db\n"
    web, db = manifest(text).service_specs()
    assert web.options == spec(FULL).options
    assert db.options.restart is RestartPolicy.UNLESS_STOPPED


def test_option_fields_at_the_top_of_a_multi_service_app_are_refused() -> None:
    text = "name: shop\nrestart: always\nservices:\n  - name: web\n    image: x\n"
    assert problems(text) == [
        "apps/web.yaml:1:1: put restart inside a service when `services` is used"
    ]


def test_restart_no_is_the_word_no_not_false() -> None:
    text = "name: web\nimage: x\nrestart: no\n"
    assert spec(text).options.restart is RestartPolicy.NO
    assert problems("name: web\nimage: x\nrestart: sometimes\n") == [
        "apps/web.yaml:3:10: restart: Input should be 'unlessStopped', 'onFailure', 'always' "
        "or 'no'"
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("port: 80\nports: [{container: 81}]", "ports: use either port/hostPort"),
        ("ports: [{container: 80, host: 8080}]\nreplicas: 2", "cannot be shared by replicas=2"),
        ("ports: [{container: 80}, {container: 80}]", "container port 80 is listed twice"),
        ("ports: [{container: 80, address: localhost}]", "must be an IP address"),
        ("labels: {gitberth.app: other}", "keys starting with gitberth. are gitberth's own"),
        ("labels: {Gitberth.Revision: x}", "keys starting with gitberth. are gitberth's own"),
        ("healthcheck: {http: /}", "an http check needs a port"),
        ("healthcheck: {http: /, tcp: true}", "give exactly one of http, tcp or command"),
        ("healthcheck: {http: no-slash, port: 80}", "must be a path starting with /"),
        ("healthcheck: {command: [true], retries: 0}", "greater than or equal to 1"),
        ("resources: {memory: 1Mi}", "at least 6Mi"),
        ("resources: {cpus: 0}", "greater than 0"),
        ("resources: {pids: 0}", "greater than or equal to 1"),
        ("user: 'root; reboot'", "must be a user name or uid"),
        ("workingDir: srv", "must be an absolute path"),
        ("stopSignal: BOOM", "must be one of"),
        ("replicas: 101", "less than or equal to 100"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(fields: str, message: str) -> None:
    found = problems(f"name: web\nimage: x\n{fields}\n")
    assert any(message in p for p in found), found
    assert all(p.startswith("apps/web.yaml:") for p in found)


@pytest.mark.parametrize(
    ("field", "why"),
    [
        ("privileged: true", "root on the host"),
        ("capAdd: [SYS_ADMIN]", "escape to the host"),
        ("cap_add: [NET_ADMIN]", "escape to the host"),
        ("devices: [/dev/sda]", "host hardware"),
        ("networkMode: host", "host's network namespace"),
        ("network_mode: host", "host's network namespace"),
        ("pid: host", "host's PID namespace"),
        ("ipc: host", "host's IPC namespace"),
        ("securityOpt: [seccomp=unconfined]", "turn off seccomp"),
    ],
)
def test_fields_that_give_root_on_the_host_are_refused_saying_why(field: str, why: str) -> None:
    top = problems(f"name: web\nimage: x\n{field}\n")
    assert len(top) == 1 and why in top[0] and top[0].startswith("apps/web.yaml:3:1: ")
    nested = problems(f"name: shop\nservices:\n  - name: web\n    image: x\n    {field}\n")
    assert len(nested) == 1 and why in nested[0]
    assert nested[0].startswith("apps/web.yaml:5:5: services.0.")
    assert "unknown field" not in top[0] + nested[0]


def test_durations_and_sizes_stay_on_the_fast_path() -> None:
    text = FULL.replace(", address: 0.0.0.0", "")  # an IP address takes the precise path
    assert fast_manifest(text) == manifest(text)


def test_a_deployed_manifest_writes_durations_and_sizes_back_as_compose_does() -> None:
    data = manifest(FULL).model_dump(mode="json", exclude_none=True)
    assert data["healthcheck"]["startPeriod"] == "5s"
    assert data["resources"]["memory"] == "256Mi"
    assert data["stopGracePeriod"] == "30s"
    assert AppManifest.model_validate(data) == manifest(FULL)
    committed = manifest_yaml(manifest(FULL))  # what POST /deploy commits
    assert "startPeriod: 5s\n" in committed and "memory: 256Mi\n" in committed
    assert manifest(committed) == manifest(FULL)


# --- the API's own port -------------------------------------------------------------------------


def test_the_api_listen_port_is_refused_as_a_host_port_with_its_position() -> None:
    files = {
        "apps/web.yaml": "name: web\nimage: x\nport: 80\nhostPort: 8700\n",
        "apps/shop.yaml": "name: shop\nservices:\n  - name: a\n    image: x\n"
        "    ports: [{container: 80}, {container: 81, host: 8700}]\n",
        "apps/ok.yaml": "name: ok\nimage: x\nport: 80\nhostPort: 8701\n",
    }
    loaded = load_manifests(files, reserved_host_ports={8700})
    assert sorted(loaded.apps) == ["ok"]
    assert [str(p) for p in loaded.problems["web"]] == [
        "apps/web.yaml:4:11: hostPort: host port 8700 is gitberth's own API port "
        "(serve --listen); pick another"
    ]
    (shop,) = loaded.problems["shop"]
    assert shop.field == "services.0.ports.1.host" and shop.line == 5


# --- the spec hash ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("restart: always", "restart: onFailure"),
        ("resources: {memory: 256Mi}", "resources: {memory: 512Mi}"),
        ("resources: {cpus: 0.5}", "resources: {cpus: 1}"),
        ("resources: {pids: 100}", "resources: {pids: 200}"),
        ("labels: {a: b}", "labels: {a: c}"),
        ("user: '1000'", "user: '1001'"),
        ("workingDir: /a", "workingDir: /b"),
        ("entrypoint: [a]", "entrypoint: [b]"),
        ("stopSignal: SIGINT", "stopSignal: SIGQUIT"),
        ("stopGracePeriod: 5s", "stopGracePeriod: 6s"),
        ("healthcheck: {tcp: true}", "healthcheck: {http: /}"),
        ("healthcheck: {tcp: true}", "healthcheck: {tcp: true, interval: 3s}"),
        ("ports: [{container: 80}]", "ports: [{container: 80, host: 8080}]"),
        ("ports: [{container: 80}]", "ports: [{container: 80, address: 0.0.0.0}]"),
    ],
)
def test_every_option_enters_the_spec_hash(before: str, after: str) -> None:
    base = "name: web\nimage: x\n"
    port = "" if "ports:" in before else "port: 80\n"
    assert hash_of(base + port + before + "\n") != hash_of(base + port + after + "\n")


def test_two_spellings_of_one_value_hash_alike_and_replicas_stay_out() -> None:
    base = "name: web\nimage: x\nport: 80\nhealthcheck: {tcp: true, interval: %s}\nreplicas: %d\n"
    assert hash_of(base % ("90s", 1)) == hash_of(base % ("1m30s", 3))


def test_the_publish_address_enters_the_hash_only_where_a_port_names_no_address() -> None:
    unnamed = "name: web\nimage: x\nport: 80\n"
    named = "name: web\nimage: x\nports: [{container: 80, address: 127.0.0.1}]\n"
    portless = "name: web\nimage: x\n"
    assert hash_of(unnamed) != hash_of(unnamed, publish_address="0.0.0.0")
    assert hash_of(named) == hash_of(named, publish_address="0.0.0.0")
    assert hash_of(portless) == hash_of(portless, publish_address="0.0.0.0")


# --- plan reasons and the review ------------------------------------------------------------------


def summary(text: str) -> dict[str, object]:
    return resolve_app(manifest(text), secrets={}).services[0].describe()


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        (
            "resources: {memory: 256Mi}",
            "resources: {memory: 512m}",
            "resources.memory 256Mi -> 512Mi",
        ),
        ("restart: no", "restart: always", "restart no -> always"),
        ("", "resources: {cpus: 0.5}", "resources.cpus (none) -> 0.5"),
        ("", "resources: {pids: 64}", "resources.pids 1024 -> 64"),
        (
            "healthcheck: {tcp: true}",
            "healthcheck: {http: /healthz}",
            "healthcheck changed: tcp port 80 (every 2s, timeout 2s, 3 retries) -> "
            "http /healthz on port 80 (every 2s, timeout 2s, 3 retries)",
        ),
        ("", "labels: {traefik.enable: 'true'}", "label traefik.enable added: true"),
        ("stopGracePeriod: 10s", "stopGracePeriod: 1m", "stopGracePeriod 10s -> 1m"),
        ("user: '1'", "", "user 1 -> (none)"),
    ],
)
def test_plan_reasons_name_the_option_and_its_values(before: str, after: str, reason: str) -> None:
    base = "name: web\nimage: x\nport: 80\n"
    assert describe_changes(summary(base + before + "\n"), summary(base + after + "\n")) == [reason]


def test_a_summary_from_before_options_existed_reads_as_the_defaults() -> None:
    old = {k: v for k, v in summary("name: web\nimage: x\n").items() if k in ("image", "env")}
    assert describe_changes(old, summary("name: web\nimage: x\n")) == []
    assert describe_changes(old, summary("name: web\nimage: x\nrestart: no\n")) == [
        "restart unlessStopped -> no"
    ]


def test_after_an_upgrade_the_one_time_replacement_says_why() -> None:
    old = {k: v for k, v in summary("name: web\nimage: x\n").items() if k in ("image", "env")}
    app = resolve_app(manifest("name: web\nimage: x\n"), secrets={})
    observed = container("web", "web", "web-1", spec_hash="from-an-older-gitberth")
    result = plan(
        DesiredState("r", {"web": app}), [observed], known_specs={observed.spec_hash: old}
    )
    assert [a.reason for a in result.actions] == [
        "the spec hash now covers container options (restart policy, pids limit, "
        "no-new-privileges) and the app's own network: replaced once after upgrading gitberth"
    ]


def test_the_review_lists_option_changes_as_replacing_fields() -> None:
    base = load_manifests({"apps/web.yaml": "name: web\nimage: x\nresources: {memory: 256Mi}\n"})
    head = load_manifests(
        {"apps/web.yaml": "name: web\nimage: x\nresources: {memory: 512Mi}\nlabels: {a: b}\n"}
    )
    (app,) = review(base, head).apps
    fields = [(f.field, f.key, f.before, f.after, f.replaces) for f in app.services[0].fields]
    assert fields == [
        ("resources.memory", None, "256Mi", "512Mi", True),
        ("labels", "a", None, "b", True),
    ]
    assert app.services[0].containers[0].reason == (
        "resources.memory 256Mi -> 512Mi; label a added: b"
    )


def test_a_new_app_in_review_shows_the_options_it_sets() -> None:
    head = load_manifests({"apps/web.yaml": FULL})
    (app,) = review(load_manifests({}), head).apps
    texts = [f.text for f in app.services[0].fields]
    assert "restart always" in texts
    assert "resources.memory 256Mi" in texts
    assert "label traefik.enable: true" in texts
    assert "ports 0.0.0.0:18080->8080, default:auto->9090" in texts
    assert not any(t.startswith("resources.pids 1024") for t in texts)


def test_a_restarting_container_is_left_to_its_restart_policy() -> None:
    for restart, expected in (("always", "keep"), ("no", "replace")):
        app = resolve_app(manifest(f"name: web\nimage: x\nrestart: {restart}\n"), secrets={})
        observed = container(
            "web",
            "web",
            "web-1",
            spec_hash=app.services[0].spec_hash,
            state=ContainerState.RESTARTING,
        )
        result = plan(DesiredState("r", {"web": app}), [observed])
        assert [a.kind.value for a in result.actions] == [expected]


def test_the_cli_default_publish_address_is_the_core_one() -> None:
    assert option_fields.DEFAULT_PUBLISH_ADDRESS == DEFAULT_PUBLISH_ADDRESS == "127.0.0.1"


def test_a_port_may_say_its_swarm_publish_mode_which_enters_the_hash_only_when_written() -> None:
    ports = "name: web\nimage: x\nports:\n  - {container: 80, host: 8080%s}\n"
    [binding] = spec(ports % ", mode: ingress").options.ports
    assert binding.mode == "ingress"
    assert hash_of(ports % "") != hash_of(ports % ", mode: host")
    assert option_changes.hash_document(spec(ports % "").options)["ports"] == [[80, 8080, None]], (
        "a port without mode hashes as before the field existed"
    )


def test_an_ingress_port_cannot_name_an_address_and_a_mode_must_be_known() -> None:
    [problem] = problems(
        "name: web\nimage: x\nports:\n  - {container: 80, address: 127.0.0.1, mode: ingress}\n"
    )
    assert problem.startswith("apps/web.yaml:4:") and "drop address" in problem
    [problem] = problems("name: web\nimage: x\nports:\n  - {container: 80, mode: mesh}\n")
    assert "mode" in problem and "apps/web.yaml:4:" in problem
