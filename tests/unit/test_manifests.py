"""Loading manifests: every problem at once, each with file:line:column and the field path."""

from __future__ import annotations

import pytest

from gitberth.core.errors import ManifestErrors
from gitberth.core.manifests import load_manifests, parse_manifest


def problems(text: str, file: str = "apps/a.yaml") -> list[str]:
    with pytest.raises(ManifestErrors) as caught:
        parse_manifest(text, file=file)
    return [str(p) for p in caught.value.problems]


def test_a_single_service_app_normalizes_to_one_service_named_after_the_app() -> None:
    manifest = parse_manifest(
        "name: hello\nimage: x:1\nport: 8080\nenv: {A: 1, B: true}\n", file="apps/hello.yaml"
    )
    [spec] = manifest.service_specs()
    assert (spec.service, spec.container_name(1), spec.replicas) == ("hello", "hello-1", 1)
    assert dict(spec.env) == {"A": "1", "B": "true"}


def test_a_multi_service_app_puts_app_level_secrets_before_service_level() -> None:
    manifest = parse_manifest(
        "name: shop\nenvFrom: [shared]\nsecretFiles: [tls]\nservices:\n"
        "  - name: web\n    image: w\n    envFrom: [web-creds]\n    replicas: 2\n"
        "  - name: worker\n    image: k\n",
        file="apps/shop.yaml",
    )
    web, worker = manifest.service_specs()
    assert web.env_from == ("shared", "web-creds")
    assert web.secret_files == ("tls",)
    assert worker.env_from == ("shared",)
    assert web.container_name(2) == "shop-web-2"
    assert manifest.secret_names() == ("shared", "tls", "web-creds")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "apps/a.yaml:1:1: the file is empty"),
        ("- a\n- b\n", "apps/a.yaml:1:1: a manifest must be a mapping, not a list"),
        ("name: a\nimage: x\nname: b\n", 'apps/a.yaml:3:1: duplicate key "name"'),
        ("name: a\nimage: x\nport: 0\n", "apps/a.yaml:3:7: port: Input should be greater"),
        ("name: a\nimage: x\nport: 70000\n", "apps/a.yaml:3:7: port: Input should be less"),
        ("name: a\nimage: x\nport: '80'\n", "apps/a.yaml:3:7: port: Input should be a valid int"),
        (
            "name: a\nimage: x\nreplicas: -1\n",
            "apps/a.yaml:3:11: replicas: Input should be greater",
        ),
        ("name: a\nimage: x\nimagee: y\n", "apps/a.yaml:3:1: imagee: unknown field"),
        ("name: a\nimage: x\nenv: [A]\n", "apps/a.yaml:3:6: env: Input should be a valid dict"),
        ("name: A_b\nimage: x\n", "apps/a.yaml:1:7: name: must be a DNS label"),
        ("name: a\n", "apps/a.yaml:1:1: an app needs either `image`"),
        (
            "name: a\nimage: x\nport: 80\nreplicas: 2\nhostPort: 80\n",
            "apps/a.yaml:5:11: hostPort: a fixed hostPort cannot be shared by replicas=2",
        ),
        ("name: a\nimage: x\nhostPort: 80\n", "apps/a.yaml:3:11: hostPort: hostPort needs port"),
        (
            "name: a\nservices:\n  - name: w\n    image: x\n    env: {1BAD: v}\n",
            "apps/a.yaml:5:11: services.0.env.1BAD: must be a variable name",
        ),
        (
            "name: a\nimage: x\nservices:\n  - name: w\n    image: y\n",
            "put image inside a service when `services` is used",
        ),
        (
            "name: a\nservices:\n  - name: w\n    image: x\n  - name: w\n    image: y\n",
            "service name 'w' is used twice",
        ),
        ("name: a\nimage: x\nenvFrom: [Bad_Name]\n", "apps/a.yaml:3:11: envFrom.0: must be a DNS"),
        ("name: a\nimage: [x\n", "apps/a.yaml:"),
    ],
)
def test_each_bad_input_gets_a_clear_positioned_error(text: str, expected: str) -> None:
    found = problems(text)
    assert any(expected in p for p in found), found


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    found = problems("name: a\nimage: x\nport: 0\nreplicas: -2\nbogus: 1\n")
    assert len(found) == 3
    assert [p.split(": ")[1] for p in found] == ["port", "replicas", "bogus"]


def test_an_error_about_a_duplicate_key_does_not_echo_values() -> None:
    [problem] = problems("name: a\nimage: x\nenv:\n  TOKEN: s3cr3t-one\n  TOKEN: s3cr3t-two\n")
    assert "s3cr3t" not in problem


def test_file_name_and_declared_name_must_agree() -> None:
    result = load_manifests({"apps/shop.yaml": "name: store\nimage: x\n"})
    assert result.apps == {}
    [problem] = result.problems["shop"]
    assert "apps/shop.yaml must declare name: shop" in str(problem)


def test_two_files_with_one_name_are_an_error_naming_both() -> None:
    result = load_manifests(
        {"apps/a.yaml": "name: a\nimage: x\n", "apps/a.yml": "name: a\nimage: y\n"}
    )
    assert "a" in result.held
    assert all("apps/a.yaml and apps/a.yml" in str(p) for p in result.problems["a"])


def test_one_broken_file_holds_only_its_own_app() -> None:
    result = load_manifests(
        {
            "apps/good.yaml": "name: good\nimage: x\n",
            "apps/bad.yaml": "name: bad\nimage: x\nport: nope\n",
            "README.md": "not a manifest",
            "apps/nested/ignored.yaml": "garbage: [",
        }
    )
    assert set(result.apps) == {"good"}
    assert result.held == {"bad"}


def test_container_name_clashes_between_apps_are_reported() -> None:
    result = load_manifests(
        {
            "apps/a-b.yaml": "name: a-b\nimage: x\n",
            "apps/a.yaml": "name: a\nservices:\n  - name: b\n    image: x\n",
        }
    )
    assert set(result.apps) == {"a"}
    assert "would clash with app 'a'" in str(result.problems["a-b"][0])


@pytest.mark.parametrize(
    "text",
    [
        "name: a\nimage: x\n",
        "name: a\nservices:\n  - name: a\n    image: x\n  - name: b\n    image: x\n",
    ],
)
def test_the_clash_check_names_containers_as_the_planner_does(text: str) -> None:
    """The check lists container names without normalizing each service (a revision checks all
    its apps); the names must be the planner's own."""
    from gitberth.core.manifest_checks import container_bases

    manifest = parse_manifest(text, file="apps/a.yaml")
    assert container_bases(manifest) == [s.container_base for s in manifest.service_specs()]


@pytest.mark.parametrize("value", ["db\n", "db\r\n", "KEY\n", " db", "db "])
def test_name_and_key_checks_refuse_trailing_or_leading_whitespace(value: str) -> None:
    from gitberth.core.field_types import is_dns_label, is_env_name

    assert not is_dns_label(value)
    assert not is_env_name(value)


def test_a_file_that_is_not_utf8_is_a_problem_of_its_own_app_only() -> None:
    result = load_manifests(
        {"apps/latin.yaml": "", "apps/good.yaml": "name: good\nimage: x\n"},
        not_utf8={"apps/latin.yaml"},
    )
    assert set(result.apps) == {"good"}
    assert [str(p) for p in result.problems["latin"]] == [
        "apps/latin.yaml: the file is not UTF-8 text"
    ]


@pytest.mark.parametrize(
    "image",
    ["Web:1.0", "acme/web:", "acme//web", "a b", "f\U000dd514J", "acme/web@sha256:xyz"],
)
def test_an_image_reference_the_engine_would_refuse_is_a_manifest_error(image: str) -> None:
    # Found by the API fuzz test: such a reference reached the engine, and POST /deploy
    # answered 500 with the engine's "invalid reference format".
    message = " ".join(problems(f'name: web\nimage: "{image}"\n', file="apps/web.yaml"))
    assert "apps/web.yaml:2" in message and "image" in message


@pytest.mark.parametrize(
    "image",
    [
        "busybox",
        "gitberth/example-web:1.0",
        "127.0.0.1:5000/team/web:v1.2_rc-1",
        "registry.example.com/ns/web@sha256:" + "a" * 64,
    ],
)
def test_image_references_in_every_form_the_engine_takes_are_accepted(image: str) -> None:
    assert parse_manifest(f"name: web\nimage: {image}\n", file="apps/web.yaml").image == image
