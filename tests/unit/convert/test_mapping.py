"""One compose file -> one manifest: every field that maps, and a note for every key that
does not (never dropped silently)."""

from __future__ import annotations

import pytest

from gitberth.convert import reasons
from gitberth.convert.compose_file import load_compose
from gitberth.convert.mapping import app_name
from gitberth.convert.notes import NoteKind
from gitberth.core.errors import ComposeError
from tests.unit.convert.snippets import convert, notes_of, one_service, service

# --- the app and its services --------------------------------------------------------------


def test_one_app_per_file_and_one_service_per_compose_service_in_order() -> None:
    conversion = convert(
        "services:\n  web: {image: acme/web:1.0}\n  db: {image: postgres:16}\n", app="shop"
    )

    assert conversion.manifest == {
        "name": "shop",
        "services": [
            {"name": "web", "image": "acme/web:1.0"},
            {"name": "db", "image": "postgres:16"},
        ],
    }
    assert conversion.notes == ()


@pytest.mark.parametrize(
    ("explicit", "text", "folder", "expected"),
    [
        ("mine", "name: shop\nservices: {web: {image: a}}\n", "dir", "mine"),
        (None, "name: My_Shop\nservices: {web: {image: a}}\n", "dir", "my-shop"),
        (None, "services: {web: {image: a}}\n", "Shop.Front", "shop-front"),
        (None, "name: ${PROJECT}\nservices: {web: {image: a}}\n", "folder", "folder"),
    ],
)
def test_the_app_is_named_by_option_then_compose_name_then_folder(
    explicit: str | None, text: str, folder: str, expected: str
) -> None:
    compose = load_compose(text, file="compose.yaml")

    assert app_name(explicit=explicit, compose=compose, folder=folder) == expected


def test_no_usable_app_name_asks_for_the_option() -> None:
    compose = load_compose("services: {web: {image: a}}\n", file="compose.yaml")

    with pytest.raises(ComposeError, match="pass --app NAME"):
        app_name(explicit=None, compose=compose, folder="___")


def test_service_names_become_dns_labels_and_the_rename_is_noted() -> None:
    conversion = convert("services:\n  Db_Main: {image: a}\n  db-main: {image: b}\n")

    names = [s["name"] for s in conversion.manifest["services"]]
    assert names == ["db-main", "db-main-2"]
    assert "reach it as db-main" in notes_of(conversion, "Db_Main")["name"][0].reason
    assert notes_of(conversion, "db-main")["name"][0].kind is NoteKind.CHANGED


# --- what runs -----------------------------------------------------------------------------


def test_command_and_entrypoint_strings_split_like_a_shell_and_lists_stay() -> None:
    web = service(
        convert(
            one_service("image: a\ncommand: nginx -g 'daemon off;'\nentrypoint: [/init, --, 1]")
        ),
        "web",
    )

    assert web["command"] == ["nginx", "-g", "daemon off;"]
    assert web["entrypoint"] == ["/init", "--", "1"]


@pytest.mark.parametrize("value", ["{sh: -c}", "[[sh], -c]", '"echo \'unbalanced"'])
def test_a_command_that_is_no_list_of_words_is_noted_not_a_crash(value: str) -> None:
    conversion = convert(one_service(f"image: a\ncommand: {value}"))

    assert "command" not in service(conversion, "web")
    assert notes_of(conversion, "web")["command"][0].kind is NoteKind.NOT_CARRIED


@pytest.mark.parametrize(
    "environment",
    [
        "environment:\n  LOG_LEVEL: info\n  DEBUG: true\n  WORKERS: 4\n  EMPTY: ''",
        "environment:\n  - LOG_LEVEL=info\n  - DEBUG=true\n  - WORKERS=4\n  - EMPTY=",
    ],
    ids=["map", "list"],
)
def test_environment_in_map_and_list_form(environment: str) -> None:
    web = service(convert(one_service(f"image: a\n{environment}")), "web")

    assert web["env"] == {"LOG_LEVEL": "info", "DEBUG": "true", "WORKERS": "4", "EMPTY": ""}


def test_environment_from_the_shell_is_not_carried_and_points_at_secrets() -> None:
    conversion = convert(
        one_service(
            "image: a\nenvironment:\n  - FROM_SHELL\n  - TOKEN=${API_TOKEN}\n"
            "  - TAG=${TAG:-1.0}\n  - PRICE=$$5\n  - bad.name=x"
        )
    )
    web, notes = service(conversion, "web"), notes_of(conversion, "web")

    assert web["env"] == {"TAG": "1.0", "PRICE": "$5"}
    assert notes["environment.FROM_SHELL"][0].kind is NoteKind.NOT_CARRIED
    assert "envFrom" in notes["environment.TOKEN"][0].reason
    assert "${API_TOKEN}" in notes["environment.TOKEN"][0].reason
    assert notes["environment.TAG"][0].kind is NoteKind.CHANGED
    assert notes["environment.bad.name"][0].kind is NoteKind.NOT_CARRIED


def test_inline_values_that_look_like_secrets_are_carried_and_flagged_without_the_value() -> None:
    conversion = convert(
        one_service(
            "image: a\nenvironment:\n  DB_PASSWORD: hunter2-sentinel\n  API_KEY: k-sentinel\n"
            "  POSTGRES_PASSWORD_FILE: /run/secrets/db\n  LOG_LEVEL: info"
        )
    )
    notes = notes_of(conversion, "web")

    assert set(notes) == {"environment.DB_PASSWORD", "environment.API_KEY"}
    assert all(n.kind is NoteKind.TODO and "envFrom" in n.reason for g in notes.values() for n in g)
    assert "sentinel" not in " ".join(n.describe() for n in conversion.notes)
    assert service(conversion, "web")["env"]["DB_PASSWORD"] == "hunter2-sentinel"


def test_variables_elsewhere_take_their_default_or_are_flagged() -> None:
    conversion = convert(one_service("image: acme/web:${TAG:-2.1}\nworking_dir: ${APP_DIR}"))
    web, notes = service(conversion, "web"), notes_of(conversion, "web")

    assert web["image"] == "acme/web:2.1"
    assert web["workingDir"] == "${APP_DIR}"
    assert notes["image"][0].kind is NoteKind.CHANGED
    assert notes["working_dir"][0].kind is NoteKind.TODO


def test_env_file_is_not_read_and_says_secrets_belong_in_the_store() -> None:
    conversion = convert(one_service("image: a\nenv_file: [.env, prod.env]"))
    note = notes_of(conversion, "web")["env_file"][0]

    assert note.kind is NoteKind.NOT_CARRIED
    assert "secret store" in note.reason and "envFrom" in note.reason
    assert "env" not in service(conversion, "web")


def test_build_without_image_runs_the_image_compose_would_tag() -> None:
    conversion = convert(one_service("build: ."), app="shop")

    assert service(conversion, "web")["image"] == "shop-web"
    note = notes_of(conversion, "web")["build"][0]
    assert note.describe().startswith("web: build (not carried: gitberth deploys images; build")
    assert "shop-web" in note.reason


def test_build_with_image_keeps_the_image() -> None:
    conversion = convert(one_service("build: {context: .}\nimage: acme/web:1.0"))

    assert service(conversion, "web")["image"] == "acme/web:1.0"
    assert notes_of(conversion, "web")["build"][0].kind is NoteKind.NOT_CARRIED


def test_user_working_dir_stop_signal_grace_period_and_labels() -> None:
    web = service(
        convert(
            one_service(
                "image: a\nuser: 1000\nworking_dir: /app\nstop_signal: SIGINT\n"
                "stop_grace_period: 1m30s\nlabels: [traefik.enable=true, com.example.tier]"
            )
        ),
        "web",
    )

    assert web["user"] == "1000"
    assert web["workingDir"] == "/app"
    assert web["stopSignal"] == "SIGINT"
    assert web["stopGracePeriod"] == "1m30s"
    assert web["labels"] == {"traefik.enable": "true", "com.example.tier": ""}


def test_gitberth_labels_are_refused_and_bad_label_keys_not_carried() -> None:
    conversion = convert(
        one_service("image: a\nlabels:\n  Gitberth.app: other\n  ok: 1\n  '-bad': x")
    )
    notes = notes_of(conversion, "web")

    assert service(conversion, "web")["labels"] == {"ok": "1"}
    assert notes["labels.Gitberth.app"][0].kind is NoteKind.REFUSED
    assert notes["labels.-bad"][0].kind is NoteKind.NOT_CARRIED


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("always", "always"), ("missing", "missing"), ("if_not_present", "missing")],
)
def test_pull_policy(policy: str, expected: str) -> None:
    assert service(convert(one_service(f"image: a\npull_policy: {policy}")), "web")["pull"] == (
        expected
    )


def test_pull_policy_never_is_not_carried() -> None:
    conversion = convert(one_service("image: a\npull_policy: never"))

    assert "pull" not in service(conversion, "web")
    assert notes_of(conversion, "web")["pull_policy"][0].kind is NoteKind.NOT_CARRIED


# --- ports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        ('["80"]', {"port": 80}),
        ("[80]", {"port": 80}),
        ('["8080:80"]', {"port": 80, "hostPort": 8080}),
        ('["8080:80/tcp"]', {"port": 80, "hostPort": 8080}),
        ('["127.0.0.1:8080:80"]', {"ports": [{"container": 80, "host": 8080,
                                               "address": "127.0.0.1"}]}),
        ('["127.0.0.1::80"]', {"ports": [{"container": 80, "address": "127.0.0.1"}]}),
        ('["[::1]:8080:80"]', {"ports": [{"container": 80, "host": 8080, "address": "::1"}]}),
        ('["8080:80", "8443:443"]', {"ports": [{"container": 80, "host": 8080},
                                               {"container": 443, "host": 8443}]}),
        ('["9000-9001:8000-8001"]', {"ports": [{"container": 8000, "host": 9000},
                                               {"container": 8001, "host": 9001}]}),
        ("[{target: 80, published: 8080, host_ip: 0.0.0.0, protocol: tcp, mode: host}]",
         {"ports": [{"container": 80, "host": 8080, "address": "0.0.0.0"}]}),
        ('[{target: 80, published: "8080"}]', {"port": 80, "hostPort": 8080}),
        ("[{target: 80}]", {"port": 80}),
    ],
)  # fmt: skip
def test_ports_short_and_long_syntax(ports: str, expected: dict[str, object]) -> None:
    web = service(convert(one_service(f"image: a\nports: {ports}")), "web")

    assert {k: v for k, v in web.items() if k in ("port", "hostPort", "ports")} == expected


def test_ports_without_an_address_say_compose_published_on_every_interface() -> None:
    notes = notes_of(convert(one_service('image: a\nports: ["8080:80"]')), "web")

    assert "every interface" in notes["ports"][0].reason
    assert notes["ports"][0].kind is NoteKind.CHANGED


@pytest.mark.parametrize(
    ("ports", "key", "fragment"),
    [
        ('["53:53/udp"]', "ports[0]", "TCP only"),
        ('["8000-8100:8000-8100"]', "ports[0]", "at most 100"),
        ('["not a port"]', "ports[0]", "cannot read"),
        ('["8080:80", "8081:80"]', "ports[1]", "already published"),
        ("[{published: 80}]", "ports[0]", "needs `target`"),
        ("[{target: 80, name: web, app_protocol: http}]", "ports[0].app_protocol", "no such field"),
    ],
)
def test_ports_that_cannot_be_carried_are_named(ports: str, key: str, fragment: str) -> None:
    notes = notes_of(convert(one_service(f"image: a\nports: {ports}")), "web")

    assert fragment in notes[key][0].reason


def test_a_fixed_host_port_with_replicas_becomes_ephemeral() -> None:
    conversion = convert(one_service('image: a\nports: ["8080:80"]\ndeploy: {replicas: 3}'))
    web = service(conversion, "web")

    assert (web["replicas"], web["port"], "hostPort" in web) == (3, 80, False)
    assert any("3 replicas" in n.reason for n in notes_of(conversion, "web")["ports"])


# --- volumes -------------------------------------------------------------------------------


def test_named_volumes_short_and_long_syntax() -> None:
    conversion = convert(
        "services:\n  db:\n    image: pg\n    volumes:\n      - db_data:/var/lib/data\n"
        "      - {type: volume, source: conf, target: /etc/conf, read_only: true}\n"
        "volumes: {db_data: {}, conf: {}}\n"
    )

    assert service(conversion, "db")["volumes"] == [
        {"name": "db-data", "path": "/var/lib/data", "readOnly": False},
        {"name": "conf", "path": "/etc/conf", "readOnly": True},
    ]
    assert "db-data" in notes_of(conversion, "db")["volumes[0]"][0].reason


def test_a_writable_volume_rolls_out_stop_first_as_compose_recreates() -> None:
    conversion = convert(
        "services:\n  db:\n    image: pg\n    volumes: [data:/data]\nvolumes: {data: {}}\n"
    )

    assert service(conversion, "db")["rollout"] == "stopFirst"
    assert "stopFirst" in notes_of(conversion, "db")["volumes"][0].reason


def test_read_only_mounts_keep_gitberths_start_first_rollout() -> None:
    conversion = convert(
        "services:\n  web:\n    image: a\n    volumes: ['conf:/conf:ro']\nvolumes: {conf: {}}\n"
    )

    assert "rollout" not in service(conversion, "web")


def test_start_first_asked_by_compose_with_a_volume_says_shared_volume_ok() -> None:
    web = service(
        convert(
            "services:\n  web:\n    image: a\n    volumes: [data:/data]\n"
            "    deploy: {update_config: {order: start-first}}\nvolumes: {data: {}}\n"
        ),
        "web",
    )

    assert (web["rollout"], web["sharedVolumeOk"]) == ("startFirst", True)


def test_bind_mounts_resolve_against_the_compose_folder_and_need_an_allowed_prefix() -> None:
    conversion = convert(
        one_service(
            "image: a\nvolumes:\n  - ./html:/usr/share/nginx/html:ro\n"
            "  - {type: bind, source: /srv/uploads, target: /uploads}"
        ),
        base_dir="/home/dev/shop",
    )

    assert service(conversion, "web")["volumes"] == [
        {"bind": "/home/dev/shop/html", "path": "/usr/share/nginx/html", "readOnly": True},
        {"bind": "/srv/uploads", "path": "/uploads", "readOnly": False},
    ]
    note = notes_of(conversion, "web")["volumes[0]"][0]
    assert note.kind is NoteKind.TODO and "--allow-bind-under" in note.reason


@pytest.mark.parametrize(
    ("entry", "kind", "fragment"),
    [
        ("/var/run/docker.sock:/var/run/docker.sock", NoteKind.REFUSED, "root on the host"),
        ("{type: bind, source: /run/docker.sock, target: /s}", NoteKind.REFUSED, "root"),
        ("~/code:/code", NoteKind.NOT_CARRIED, "absolute host path"),
        ("{type: tmpfs, target: /tmp}", NoteKind.NOT_CARRIED, "tmpfs"),
        ("data:relative", NoteKind.NOT_CARRIED, "not absolute"),
        ("data:/data:z", NoteKind.NOT_CARRIED, "'z'"),
        ("a:b:c:d", NoteKind.NOT_CARRIED, "cannot read"),
        ("{type: volume, source: data, target: /d, volume: {nocopy: true}}",
         NoteKind.NOT_CARRIED, "no such option"),
    ],
)  # fmt: skip
def test_mounts_gitberth_will_not_make_are_named(entry: str, kind: NoteKind, fragment: str) -> None:
    notes = notes_of(convert(one_service(f"image: a\nvolumes:\n  - {entry}")), "web")

    found = [n for key, group in notes.items() if key.startswith("volumes[0]") for n in group]
    assert any(n.kind is kind and fragment in n.reason for n in found), found


def test_an_anonymous_volume_becomes_a_named_one() -> None:
    conversion = convert(one_service("image: a\nvolumes: [/var/cache/app]"))

    assert service(conversion, "web")["volumes"] == [
        {"name": "app", "path": "/var/cache/app", "readOnly": False}
    ]


def test_volume_definitions_gitberth_cannot_honour_are_file_level_notes() -> None:
    conversion = convert(
        "services: {db: {image: pg, volumes: [data:/d]}}\n"
        "volumes:\n  data: {external: true, driver: nfs, name: legacy}\n"
    )
    notes = notes_of(conversion, None)

    assert set(notes) >= {"volumes.data.external", "volumes.data.driver", "volumes.data.name"}


# --- networks ------------------------------------------------------------------------------


def test_default_and_project_networks_are_the_apps_own_and_external_ones_are_shared() -> None:
    conversion = convert(
        "services:\n  web:\n    image: a\n    networks: [default, backend, proxy, legacy]\n"
        "networks:\n  backend: {driver: bridge}\n  proxy: {external: true}\n"
        "  legacy: {external: true, name: Old_Net}\n"
    )
    notes = notes_of(conversion, "web")

    assert service(conversion, "web")["networks"] == ["proxy", "old-net"]
    assert "networks.default" not in notes
    assert "app's own network" in notes["networks.backend"][0].reason
    assert notes_of(conversion, None)["networks.backend.driver"][0].kind is NoteKind.NOT_CARRIED


def test_a_network_with_a_fixed_name_is_shared_between_projects_so_it_is_carried() -> None:
    conversion = convert(
        "services: {web: {image: a, networks: [db]}}\nnetworks: {db: {name: shared-db}}\n"
    )

    assert service(conversion, "web")["networks"] == ["shared-db"]


def test_network_attachment_options_are_not_carried() -> None:
    conversion = convert(
        "services:\n  web:\n    image: a\n    networks:\n"
        "      proxy: {aliases: [www], ipv4_address: 10.0.0.2}\n"
        "networks: {proxy: {external: true}}\n"
    )
    notes = notes_of(conversion, "web")

    assert service(conversion, "web")["networks"] == ["proxy"]
    assert {"networks.proxy.aliases", "networks.proxy.ipv4_address"} <= set(notes)


@pytest.mark.parametrize("name", ["host", "gitberth-x"])
def test_external_networks_that_cannot_be_shared_networks(name: str) -> None:
    conversion = convert(
        "services: {web: {image: a, networks: [n]}}\n"
        f"networks: {{n: {{external: true, name: {name}}}}}\n"
    )

    assert "networks" not in service(conversion, "web")
    assert notes_of(conversion, "web")["networks.n"][0].kind is NoteKind.NOT_CARRIED


# --- secrets -------------------------------------------------------------------------------


def test_compose_secrets_become_app_scoped_secret_files_with_an_upload_command() -> None:
    conversion = convert(
        "services:\n  web:\n    image: a\n"
        "    secrets: [db_password, {source: api-key, target: api_key}]\n"
        "secrets:\n  db_password: {file: ./db_password.txt}\n  api-key: {environment: API_KEY}\n",
        app="shop",
    )
    notes = notes_of(conversion, "web")

    assert service(conversion, "web")["secretFiles"] == ["db-password", "api-key"]
    first = notes["secrets[0]"][0]
    assert first.kind is NoteKind.TODO
    assert "/run/secrets/db_password" in first.reason
    assert "--rawfile v ./db_password.txt" in first.reason
    assert 'appId: "shop"' in first.reason
    assert '--arg v "$API_KEY"' in notes["secrets[1]"][0].reason


def test_a_secret_target_outside_run_secrets_or_with_dashes_is_noted() -> None:
    conversion = convert(
        "services:\n  web:\n    image: a\n    secrets:\n"
        "      - {source: tls, target: /etc/ssl/key.pem, mode: 0400}\n"
        "secrets: {tls: {file: ./key.pem}}\n"
    )
    reasons_given = [n.reason for group in notes_of(conversion, "web").values() for n in group]

    assert any("not at /etc/ssl/key.pem" in r for r in reasons_given)
    assert any("/run/secrets/key_pem" in r for r in reasons_given)
    assert "secrets[0].mode" in notes_of(conversion, "web")


def test_secret_definitions_gitberth_cannot_honour_are_file_level_notes() -> None:
    conversion = convert(
        "services: {web: {image: a, secrets: [tls]}}\n"
        "secrets: {tls: {external: true, name: prod_tls, template_driver: golang}}\n"
    )

    assert set(notes_of(conversion, None)) == {
        "secrets.tls.external",
        "secrets.tls.name",
        "secrets.tls.template_driver",
    }
    assert "FILE-WITH-THE-VALUE" in notes_of(conversion, "web")["secrets[0]"][0].reason


# --- health, restart, resources, replicas --------------------------------------------------


@pytest.mark.parametrize(
    ("test", "command"),
    [
        ('["CMD", "wget", "-q", "http://127.0.0.1/"]', ["wget", "-q", "http://127.0.0.1/"]),
        ('["CMD-SHELL", "curl -f http://x/ || exit 1"]',
         ["sh", "-c", "curl -f http://x/ || exit 1"]),
        ("pg_isready -U postgres", ["sh", "-c", "pg_isready -U postgres"]),
    ],
)  # fmt: skip
def test_healthcheck_tests_become_commands_with_their_timings(
    test: str, command: list[str]
) -> None:
    web = service(
        convert(
            one_service(
                f"image: a\nhealthcheck:\n  test: {test}\n  interval: 10s\n  timeout: 500ms\n"
                "  retries: 5\n  start_period: 1m30s\n  start_interval: 1s"
            )
        ),
        "web",
    )

    assert web["healthcheck"] == {
        "command": command,
        "interval": "10s",
        "timeout": "500ms",
        "startPeriod": "1m30s",
        "retries": 5,
    }


@pytest.mark.parametrize(
    "check", ["{disable: true}", "{test: [NONE]}", "{interval: 5s}", "{test: [BOGUS, x]}"]
)
def test_healthchecks_that_do_not_carry(check: str) -> None:
    conversion = convert(one_service(f"image: a\nhealthcheck: {check}"))

    assert "healthcheck" not in service(conversion, "web")
    assert notes_of(conversion, "web")["healthcheck"][0].kind is NoteKind.NOT_CARRIED


@pytest.mark.parametrize(
    ("restart", "expected"),
    [
        ('"no"', "no"),
        ("no", "no"),
        ("always", "always"),
        ("on-failure", "onFailure"),
        ("on-failure:3", "onFailure"),
        ("unless-stopped", "unlessStopped"),
    ],
)
def test_restart_policies(restart: str, expected: str) -> None:
    assert service(convert(one_service(f"image: a\nrestart: {restart}")), "web")["restart"] == (
        expected
    )


def test_deploy_restart_policy_and_replicas() -> None:
    conversion = convert(
        one_service(
            "image: a\ndeploy:\n  replicas: 2\n  mode: replicated\n"
            "  restart_policy: {condition: on-failure, max_attempts: 3}"
        )
    )
    web = service(conversion, "web")

    assert (web["replicas"], web["restart"]) == (2, "onFailure")
    assert set(notes_of(conversion, "web")) == {"deploy.restart_policy.max_attempts"}


def test_scale_is_replicas() -> None:
    assert service(convert(one_service("image: a\nscale: 3")), "web")["replicas"] == 3


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("deploy: {resources: {limits: {cpus: '0.5', memory: 512M, pids: 100}}}",
         {"memory": "512Mi", "cpus": 0.5, "pids": 100}),
        ("mem_limit: 1g\ncpus: 2\npids_limit: 200", {"memory": "1Gi", "cpus": 2, "pids": 200}),
        ("mem_limit: 1.5gb", {"memory": "1536Mi"}),
        ("mem_limit: 268435456", {"memory": "256Mi"}),
        ("mem_limit: 100k", {"memory": "100Ki"}),
    ],
)  # fmt: skip
def test_resource_limits(body: str, expected: dict[str, object]) -> None:
    assert service(convert(one_service(f"image: a\n{body}")), "web")["resources"] == expected


def test_reservations_and_unusable_limits_are_noted() -> None:
    conversion = convert(
        one_service(
            "image: a\nmem_limit: lots\npids_limit: -1\n"
            "deploy: {resources: {reservations: {memory: 1g}, limits: {devices: []}}}"
        )
    )

    assert "resources" not in service(conversion, "web")
    assert set(notes_of(conversion, "web")) >= {
        "deploy.resources.reservations",
        "deploy.resources.limits.devices",
        "mem_limit",
        "pids_limit",
    }


# --- everything else is named ----------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(reasons.NOT_CARRIED))
def test_every_compose_key_without_a_field_is_listed_with_its_reason(key: str) -> None:
    conversion = convert(one_service(f"image: a\n{key}: something"))
    notes = notes_of(conversion, "web")

    assert notes[key][0].kind is NoteKind.NOT_CARRIED
    assert notes[key][0].reason.startswith(reasons.NOT_CARRIED[key])
    assert notes[key][0].line == 4


@pytest.mark.parametrize("key", sorted(reasons.REFUSED))
def test_every_host_privilege_is_refused(key: str) -> None:
    notes = notes_of(convert(one_service(f"image: a\n{key}: [x]")), "web")

    assert notes[key][0].kind is NoteKind.REFUSED
    assert "host" in notes[key][0].reason


def test_privileged_is_refused_in_the_words_users_read() -> None:
    conversion = convert(one_service("image: a\nprivileged: true"))

    assert [n.describe() for n in conversion.notes] == [
        "web: privileged (refused: gitberth never grants host privileges)"
    ]


def test_privileged_false_is_the_default_and_needs_no_note() -> None:
    assert convert(one_service("image: a\nprivileged: false")).notes == ()


@pytest.mark.parametrize("key", reasons.HOST_NAMESPACES)
def test_host_namespaces_are_refused_and_other_modes_not_carried(key: str) -> None:
    refused = notes_of(convert(one_service(f"image: a\n{key}: host")), "web")[key][0]
    other = notes_of(convert(one_service(f"image: a\n{key}: service:db")), "web")[key][0]

    assert refused.kind is NoteKind.REFUSED
    assert other.kind is NoteKind.NOT_CARRIED


@pytest.mark.parametrize(
    ("options", "expected"),
    [("[no-new-privileges:true]", None), ("[seccomp:unconfined]", NoteKind.REFUSED),
     ("[apparmor:custom]", NoteKind.REFUSED)],
)  # fmt: skip
def test_security_options(options: str, expected: NoteKind | None) -> None:
    notes = notes_of(convert(one_service(f"image: a\nsecurity_opt: {options}")), "web")

    assert (notes["security_opt"][0].kind if notes else None) is expected


def test_depends_on_explains_parallel_start_and_health_checks() -> None:
    note = notes_of(convert(one_service("image: a\ndepends_on: [db]")), "web")["depends_on"][0]

    assert "parallel" in note.reason and "healthcheck" in note.reason


def test_unknown_and_extension_keys_are_listed_too() -> None:
    notes = notes_of(convert(one_service("image: a\nx-team: core\ncolour: blue")), "web")

    assert "extension" in notes["x-team"][0].reason
    assert "not a compose key" in notes["colour"][0].reason


def test_a_service_with_neither_image_nor_build_is_named() -> None:
    conversion = convert("services:\n  web: {command: [sh]}\n")

    assert "no image and no build" in notes_of(conversion, "web")["image"][0].reason


@pytest.mark.parametrize(
    ("key", "fragment"),
    [("version", "obsolete"), ("configs", "image"), ("include", "docker compose config"),
     ("colour", "not a compose key")],
)  # fmt: skip
def test_top_level_keys_that_do_not_carry_are_file_level_notes(key: str, fragment: str) -> None:
    notes = notes_of(convert(f"{key}: x\nservices: {{web: {{image: a}}}}\n"), None)

    assert fragment in notes[key][0].reason


def test_top_level_extension_fields_only_hold_anchors_and_need_no_note() -> None:
    conversion = convert("x-env: &env {A: b}\nservices: {web: {image: a, environment: *env}}\n")

    assert conversion.notes == ()
    assert service(conversion, "web")["env"] == {"A": "b"}
