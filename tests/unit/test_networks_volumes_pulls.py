"""Networks, volumes, bind mounts and image pulls in manifests, purely: what is accepted, what
is refused (with file, line and field), what enters the spec hash, and how plans word it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import jsonschema
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from gitberth.cli import app as cli
from gitberth.core.binds import BindPolicy
from gitberth.core.errors import ActionFailedError, ManifestErrors, MissingSecretKeyError
from gitberth.core.manifests import load_manifests, parse_manifest
from gitberth.core.models import AppManifest
from gitberth.core.plan import DesiredState, describe_changes, plan
from gitberth.core.resolve import SecretKeyMaterial, SecretMaterial, Secrets, resolve_app
from gitberth.core.resolved import ResolvedApp
from gitberth.core.review import review
from gitberth.core.wiring import VolumeSpec
from gitberth.host_paths import bind_policy
from gitberth.pass_resources import pull_for_plan
from gitberth.render.markdown import escape, render_markdown
from gitberth.render.report import RevisionOut, build_report, plan_schema, render_json
from gitberth.runtime.docker_args import shared_network_aliases, to_create_kwargs
from tests.unit.fakes import container


def manifest(text: str, file: str = "apps/shop.yaml") -> AppManifest:
    return parse_manifest(text, file=file)


def problems(text: str) -> list[str]:
    with pytest.raises(ManifestErrors) as caught:
        parse_manifest(text, file="apps/a.yaml")
    return [str(p) for p in caught.value.problems]


def resolved(text: str, secrets: Secrets | None = None) -> ResolvedApp:
    return resolve_app(manifest(text), secrets=secrets or {})


def secret(name: str, app_id: str | None = None, **keys: str) -> Secrets:
    return {
        (app_id, name): SecretMaterial(
            name=name,
            app_id=app_id,
            keys={
                k: SecretKeyMaterial(SecretStr(v), hashlib.sha256(v.encode()).hexdigest())
                for k, v in keys.items()
            },
        )
    }


SHOP = (
    "name: shop\nnetworks: [shared-db]\nimagePullSecret: regcred\npull: always\nservices:\n"
    "  - name: web\n    image: w\n    networks: [cache]\n"
    "  - name: store\n    image: s\n    pull: missing\n    imagePullSecret: store-cred\n"
    "    volumes: [{name: data, path: /data}, {name: seed, path: /seed, readOnly: true}]\n"
    "    rollout: stopFirst\n"
)


# --- the manifest -------------------------------------------------------------------------


def test_app_level_networks_and_pull_settings_reach_every_service_and_services_override() -> None:
    web, store = manifest(SHOP).service_specs()
    assert web.networks == ("shared-db", "cache")
    assert store.networks == ("shared-db",)
    assert (web.pull, web.image_pull_secret) == ("always", "regcred")
    assert (store.pull, store.image_pull_secret) == ("missing", "store-cred")
    assert [(v.name, v.path, v.read_only) for v in store.volumes] == [
        ("data", "/data", False),
        ("seed", "/seed", True),
    ]
    assert store.volumes[0].engine_name("shop") == "shop_data"
    assert (web.rollout, store.rollout) == ("startFirst", "stopFirst")
    assert manifest(SHOP).secret_names() == ("regcred", "store-cred")


def test_defaults_pull_missing_and_start_first_unless_a_host_port_is_fixed() -> None:
    [plain] = manifest("name: a\nimage: x\n").service_specs()
    [fixed] = manifest("name: a\nimage: x\nport: 80\nhostPort: 8080\n").service_specs()
    assert (plain.pull, plain.rollout, plain.networks, plain.volumes) == (
        "missing",
        "startFirst",
        (),
        (),
    )
    assert fixed.rollout == "stopFirst"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: a\nimage: x\nvolumes: [{name: data, path: /data}]\n",
            "apps/a.yaml:3:10: volumes: data is mounted writable, so say how a replacement "
            "treats it: `rollout: stopFirst`",
        ),
        (
            "name: a\nimage: x\nport: 80\nhostPort: 80\nrollout: startFirst\n",
            "apps/a.yaml:5:10: rollout: a fixed hostPort cannot be held by the old and the new",
        ),
        (
            "name: a\nimage: x\nrollout: sideways\n",
            "apps/a.yaml:3:10: rollout: Input should be 'startFirst' or 'stopFirst'",
        ),
        (
            "name: a\nimage: x\npull: sometimes\n",
            "apps/a.yaml:3:7: pull: Input should be 'missing' or 'always'",
        ),
        (
            "name: a\nimage: x\nvolumes:\n  - {name: d, path: data, readOnly: true}\n",
            "apps/a.yaml:4:21: volumes.0.path: path must be an absolute path",
        ),
        (
            "name: a\nimage: x\nvolumes:\n  - {name: d, path: /a/../etc, readOnly: true}\n",
            "apps/a.yaml:4:21: volumes.0.path: path must not contain '..'",
        ),
        (
            "name: a\nimage: x\nvolumes:\n  - {name: d, path: /run/secrets/x, readOnly: true}\n",
            "apps/a.yaml:4:21: volumes.0.path: /run/secrets is where secretFiles are mounted",
        ),
        (
            "name: a\nimage: x\nvolumes:\n  - {name: d, bind: /srv, path: /d, readOnly: true}\n",
            "apps/a.yaml:4:5: volumes.0: a volume needs exactly one of `name`",
        ),
        (
            "name: a\nimage: x\nvolumes:\n  - {name: D_1, path: /d, readOnly: true}\n",
            "apps/a.yaml:4:12: volumes.0.name: must be a DNS label",
        ),
        (
            "name: a\nimage: x\nsharedVolumeOk: true\nvolumes:\n"
            "  - {name: d, path: /d}\n  - {name: e, path: /d}\n",
            "apps/a.yaml:5:3: volumes: d and e are both mounted at /d",
        ),
        (
            "name: a\nimage: x\nnetworks: [bridge]\n",
            "apps/a.yaml:3:12: networks.0: 'bridge' is one of the engine's own networks",
        ),
        (
            "name: a\nimage: x\nnetworks: [gitberth-b]\n",
            "apps/a.yaml:3:12: networks.0: names starting with 'gitberth' are kept",
        ),
        (
            "name: a\nvolumes: []\nservices:\n  - {name: w, image: x}\n",
            "apps/a.yaml:1:1: put volumes inside a service when `services` is used",
        ),
    ],
)
def test_bad_wiring_is_reported_with_file_line_and_field(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_a_volume_mounted_read_only_or_with_an_explicit_choice_is_accepted() -> None:
    for extra in (
        "volumes: [{name: d, path: /d, readOnly: true}]\n",
        "volumes: [{name: d, path: /d}]\nrollout: stopFirst\n",
        "volumes: [{name: d, path: /d}]\nsharedVolumeOk: true\nreplicas: 3\n",
        "volumes: [{name: d, path: /d}]\nport: 80\nhostPort: 8080\n",  # stop-first already
    ):
        assert manifest(f"name: a\nimage: x\n{extra}").service_specs()[0].volumes


# --- the spec hash --------------------------------------------------------------------------


def hash_of(text: str) -> str:
    return resolved(text, secret("cred", USERNAME="u", PASSWORD="p")).services[0].spec_hash


def test_networks_and_mounts_enter_the_hash_but_pull_settings_do_not() -> None:
    base = "name: a\nimage: x\n"
    assert hash_of(base + "networks: [db]\n") != hash_of(base)
    assert hash_of(base + "volumes: [{name: d, path: /d, readOnly: true}]\n") != hash_of(base)
    assert hash_of(base + "volumes: [{name: d, path: /d, readOnly: true}]\n") != hash_of(
        base + "volumes: [{name: d, path: /e, readOnly: true}]\n"
    )
    for unchanged in ("pull: always\n", "imagePullSecret: cred\n", "rollout: stopFirst\n"):
        assert hash_of(base + unchanged) == hash_of(base)


def test_new_pull_credentials_do_not_restart_anything() -> None:
    text = "name: a\nimage: x\nimagePullSecret: cred\n"
    one = resolved(text, secret("cred", USERNAME="u", PASSWORD="one")).services[0]
    two = resolved(text, secret("cred", USERNAME="u", PASSWORD="two")).services[0]
    assert one.spec_hash == two.spec_hash
    assert one.pull_credentials is not None and two.pull_credentials is not None
    assert one.pull_credentials.fingerprint != two.pull_credentials.fingerprint


# --- pull credentials -----------------------------------------------------------------------


def test_the_app_scoped_pull_secret_beats_the_shared_one_and_never_shows() -> None:
    secrets = {
        **secret("cred", USERNAME="shared", PASSWORD="shared-pw"),
        **secret("cred", "a", USERNAME="mine", PASSWORD="mine-pw", REGISTRY="reg.example:5000"),
    }
    [service] = resolved("name: a\nimage: x\nimagePullSecret: cred\n", secrets).services
    credentials = service.pull_credentials
    assert credentials is not None
    assert credentials.username.get_secret_value() == "mine"
    assert credentials.registry == "reg.example:5000"
    assert "mine-pw" not in repr(service) + str(service.describe())
    assert not service.env


def test_a_pull_secret_without_a_password_holds_the_app() -> None:
    with pytest.raises(MissingSecretKeyError) as caught:
        resolved("name: a\nimage: x\nimagePullSecret: cred\n", secret("cred", USERNAME="u"))
    assert caught.value.code == "missing_secret_key"
    assert "PASSWORD" in str(caught.value)


# --- plan wording ---------------------------------------------------------------------------


def summary(text: str) -> dict[str, object]:
    return dict(resolved(text).services[0].describe())


def test_replacements_name_networks_and_volumes_and_say_data_is_kept() -> None:
    before = summary(
        "name: a\nimage: x\nnetworks: [db]\nvolumes: [{name: d, path: /d}]\nrollout: stopFirst\n"
    )
    after = summary(
        "name: a\nimage: x\nnetworks: [cache]\nrollout: stopFirst\n"
        "volumes: [{name: e, path: /e, readOnly: true}]\n"
    )
    assert describe_changes(before, after) == [
        "network cache added",
        "network db removed",
        "volume d at /d removed (its data is kept, orphaned)",
        "volume e at /e (read-only) added",
    ]


def test_a_create_names_every_mount_and_replicas_sharing_a_volume() -> None:
    text = (
        "name: a\nimage: x\nreplicas: 2\nsharedVolumeOk: true\n"
        "volumes: [{name: d, path: /d}, {bind: /srv/a, path: /in, readOnly: true}]\n"
    )
    state = DesiredState("rev", {"a": resolved(text)})
    result = plan(state, [])
    assert result.actions[0].reason == (
        "new app; volume d at /d (shared by 2 replicas); bind /srv/a at /in (read-only)"
    )


def test_removing_an_app_says_its_volumes_are_kept() -> None:
    old = container("gone", "gone", "gone-1")
    old = type(old)(**{**old.__dict__, "volumes": ("gone_data",)})
    [action] = plan(DesiredState("rev", {}), [old]).actions
    assert action.reason == (
        "app removed from Git; volume gone_data kept (orphaned; "
        "`gitberth volumes prune gone --yes` deletes it)"
    )


# --- bind mounts ----------------------------------------------------------------------------

BIND = "name: a\nimage: x\nvolumes:\n  - {bind: SOURCE, path: /data, readOnly: true}\n"


def bind_problems(source: str, policy: BindPolicy) -> list[str]:
    loaded = load_manifests({"apps/a.yaml": BIND.replace("SOURCE", source)}, binds=policy)
    return [str(p) for p in loaded.problems.get("a", ())]


def test_a_bind_mount_is_refused_unless_the_server_allows_its_prefix() -> None:
    [refused] = bind_problems("/srv/apps/a", BindPolicy())
    assert refused.startswith("apps/a.yaml:4:12: volumes.0.bind: bind /srv/apps/a: host paths ")
    assert "--allow-bind-under" in refused
    assert bind_problems("/srv/apps/a", BindPolicy(allowed=("/srv/apps",))) == []
    [outside] = bind_problems("/srv/apps-evil/a", BindPolicy(allowed=("/srv/apps",)))
    assert "is not under an allowed prefix (/srv/apps)" in outside


@pytest.mark.parametrize(
    "source", ["/var/run/docker.sock", "/run/docker.sock", "/run", "/", "/srv/x/engine.sock"]
)
def test_the_engine_socket_and_its_directories_are_never_mounted(source: str) -> None:
    [refused] = bind_problems(source, BindPolicy(allowed=("/",)))
    assert "engine socket" in refused


def test_a_symlink_out_of_the_allowed_prefix_is_refused_and_the_target_is_what_mounts(
    tmp_path: Path,
) -> None:
    allowed, elsewhere = tmp_path / "apps", tmp_path / "etc"
    allowed.mkdir()
    elsewhere.mkdir()
    (allowed / "escape").symlink_to(elsewhere)
    (allowed / "inside").symlink_to(allowed / "real")
    policy = bind_policy([allowed])

    [refused] = bind_problems(str(allowed / "escape"), policy)
    assert f"({elsewhere})" in refused and "not under an allowed prefix" in refused
    assert bind_problems(str(allowed / "inside"), policy) == []
    assert policy.resolved(str(allowed / "inside")) == str(allowed / "real")


def test_a_bind_is_checked_again_at_mount_time_and_its_resolved_path_mounted(
    tmp_path: Path,
) -> None:
    allowed, elsewhere = tmp_path / "apps", tmp_path / "etc"
    allowed.mkdir()
    elsewhere.mkdir()
    (allowed / "real").mkdir()
    link = allowed / "data"
    link.symlink_to(allowed / "real")
    policy = bind_policy([allowed])
    volumes = (
        VolumeSpec(path="/data", bind=str(link)),
        VolumeSpec(path="/cache", name="cache"),
    )
    assert policy.mount_sources(volumes) == {str(link): str(allowed / "real")}

    link.unlink()
    link.symlink_to(elsewhere)  # moved after the manifest was checked
    with pytest.raises(ActionFailedError, match="not under an allowed prefix"):
        policy.mount_sources(volumes)


def test_the_socket_docker_host_names_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/lib/engine-x/docker.sock")
    policy = bind_policy([Path("/var/lib")])
    assert "engine socket" in bind_problems("/var/lib/engine-x", policy)[0]


def test_validate_refuses_a_bind_mount_unless_allowed(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    path = tmp_path / "a.yaml"
    path.write_text(BIND.replace("SOURCE", str(tmp_path / "data")))
    runner = CliRunner()

    refused = runner.invoke(cli, ["validate", str(path)])
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"{path}:4:12: volumes.0.bind: bind {tmp_path}/data")

    allowed = runner.invoke(cli, ["validate", str(path), "--allow-bind-under", str(tmp_path)])
    assert allowed.exit_code == 0, allowed.output


# --- engine arguments -----------------------------------------------------------------------


def test_a_container_joins_its_app_network_under_its_service_name_with_its_mounts() -> None:
    credentials = {
        **secret("regcred", USERNAME="u", PASSWORD="p"),
        **secret("store-cred", USERNAME="u", PASSWORD="p"),
    }
    store = resolved(SHOP, credentials).services[1]
    kwargs = to_create_kwargs(store, name="shop-store-1", revision="r", source="s")
    assert kwargs["network"] == "gitberth-shop"
    assert kwargs["networking_config"] == {"gitberth-shop": {"Aliases": ["store"]}}
    assert kwargs["mounts"] == [
        {"Type": "volume", "Source": "shop_data", "Target": "/data", "ReadOnly": False},
        {"Type": "volume", "Source": "shop_seed", "Target": "/seed", "ReadOnly": True},
    ]
    assert shared_network_aliases(store) == ["shop-store"]


def test_a_bind_mount_mounts_the_resolved_source() -> None:
    service = resolved(BIND.replace("SOURCE", "/srv/link")).services[0]
    kwargs = to_create_kwargs(
        service, name="a-1", revision="r", source="s", bind_sources={"/srv/link": "/srv/real"}
    )
    assert kwargs["mounts"] == [
        {"Type": "bind", "Source": "/srv/real", "Target": "/data", "ReadOnly": True}
    ]


def test_host_paths_resolve_with_the_real_filesystem() -> None:
    assert bind_policy(None).resolve is os.path.realpath


# --- pull-request review ----------------------------------------------------------------------

VAULT = "name: vault\nimage: v:1\nrollout: stopFirst\nvolumes: [{name: data, path: /data}]\n"


def review_of(base: dict[str, str], head: dict[str, str], binds: BindPolicy | None = None):  # type: ignore[no-untyped-def]
    def load(files: dict[str, str]):  # type: ignore[no-untyped-def]
        return load_manifests({f"apps/{n}.yaml": t for n, t in files.items()}, binds=binds)

    result = review(load(base), load(head))
    return build_report(result, base=REV, head=REV)


REV = RevisionOut(ref="main", sha="a" * 40)


def texts(report, app: str) -> list[str]:  # type: ignore[no-untyped-def]
    [found] = [a for a in report.apps if a.name == app]
    return [f.text for s in found.services for f in s.fields]


def test_a_review_names_new_mounts_networks_and_pull_settings() -> None:
    head = (
        "name: files\nimage: f:1\nreplicas: 2\nsharedVolumeOk: true\nnetworks: [shared-db]\n"
        "imagePullSecret: regcred\npull: always\nvolumes:\n  - {name: data, path: /data}\n"
        "  - {bind: /srv/apps/files, path: /in, readOnly: true}\n"
    )
    report = review_of({}, {"files": head}, BindPolicy(allowed=("/srv/apps",)))
    assert texts(report, "files")[-6:] == [
        "network shared-db",
        "volume data at /data (shared by 2 replicas)",
        "bind /srv/apps/files at /in (read-only)",
        "pull always",
        "imagePullSecret regcred",
        "rollout startFirst (sharedVolumeOk)",
    ]
    markdown = render_markdown(report)
    assert "`volumes`: " + escape("bind /srv/apps/files at /in (read-only)") in markdown
    jsonschema.validate(json.loads(render_json(report)), plan_schema())


def test_a_review_says_a_removed_volume_or_app_keeps_its_data() -> None:
    dropped = VAULT.replace("volumes: [{name: data, path: /data}]\n", "")
    report = review_of({"vault": VAULT}, {"vault": dropped})
    assert texts(report, "vault") == ["volume data at /data removed (its data is kept, orphaned)"]

    report = review_of({"vault": VAULT}, {})
    assert texts(report, "vault") == [
        "volume vault_data kept (orphaned; `gitberth volumes prune vault --yes` deletes it)"
    ]
    assert escape("volume vault_data kept (orphaned;") in render_markdown(report)


def test_a_review_refuses_a_bind_mount_the_reviewer_did_not_allow() -> None:
    head = "name: b\nimage: x\nvolumes: [{bind: /etc, path: /e, readOnly: true}]\n"
    report = review_of({}, {"b": head})
    [app] = report.apps
    assert app.change == "invalid"
    assert "host paths are refused" in app.problems[0].message


def test_pull_and_rollout_changes_replace_nothing_and_networks_do() -> None:
    base = "name: a\nimage: x\n"
    report = review_of({"a": base}, {"a": base + "pull: always\nrollout: stopFirst\n"})
    [service] = report.apps[0].services
    assert [(f.text, f.replaces) for f in service.fields] == [
        ("pull missing -> always", False),
        ("rollout (none) -> stopFirst", False),
    ]
    assert service.containers == []
    report = review_of({"a": base}, {"a": base + "networks: [db]\n"})
    [service] = report.apps[0].services
    assert [c.reason for c in service.containers] == ["network db added"]


# --- pulls in a pass ----------------------------------------------------------------------------


class RecordingPuller:
    """Stands in for the engine's pull side: records what a pass asks for."""

    bind_policy = BindPolicy()

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.asked: list[list[tuple[str, str, str | None]]] = []

    def pull_images(self, requests, *, workers):  # type: ignore[no-untyped-def]
        self.asked.append([r.key for r in requests])
        return {r.key: ("unauthorized" if r.image in self.failing else None) for r in requests}

    def release_networks(self, *, keep, changed):  # type: ignore[no-untyped-def]
        return None


def test_a_pass_pulls_what_it_starts_once_per_image_and_names_the_apps_that_failed() -> None:
    state = DesiredState(
        "rev",
        {
            "a": resolved("name: a\nimage: shared:1\nreplicas: 2\n"),
            "b": resolved("name: b\nimage: shared:1\n"),
            "c": resolved("name: c\nimage: private:1\npull: always\n"),
        },
    )
    puller = RecordingPuller(failing={"private:1"})
    failures = pull_for_plan(puller, plan(state, []).actions, workers=1)

    assert failures == {"c": "unauthorized"}
    [asked] = puller.asked
    assert sorted(asked) == [("private:1", "always", None), ("shared:1", "missing", None)]


def test_a_pass_that_starts_nothing_pulls_nothing() -> None:
    state = DesiredState("rev", {"a": resolved("name: a\nimage: x\n")})
    spec_hash = state.apps["a"].services[0].spec_hash
    actions = plan(state, [container("a", "a", "a-1", spec_hash=spec_hash)]).actions
    puller = RecordingPuller(failing=set())
    assert pull_for_plan(puller, actions, workers=4) == {}
    assert puller.asked == []


def test_a_container_from_before_networks_existed_is_moved_to_its_app_network() -> None:
    state = DesiredState("rev", {"a": resolved("name: a\nimage: x\n")})
    old_summary = {k: v for k, v in state.apps["a"].services[0].describe().items()}
    for key in ("networks", "volumes", "pull", "imagePullSecret", "rollout"):
        old_summary.pop(key)
    [action] = plan(
        state, [container("a", "a", "a-1", spec_hash="v1")], known_specs={"v1": old_summary}
    ).actions
    assert action.reason == "joins its app's own network gitberth-a"
