"""`gitberth validate`: every problem at once with its position, and parse_manifest's fast path
(used by validate, the loop and plan alike) that never calls a manifest valid when the precise
ruamel reading would not, nor reads a valid one differently."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from gitberth.cli import app
from gitberth.core.errors import ManifestErrors
from gitberth.core.manifest_fast_path import NotCertain, fast_data, fast_manifest
from gitberth.core.manifest_positions import plain_data
from gitberth.core.manifests import parse_manifest, validate_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def ruamel_data(text: str) -> object:
    loader = YAML(typ="rt", pure=True)
    loader.allow_duplicate_keys = False
    return plain_data(loader.load(io.StringIO(text)))


# Every scalar form whose meaning differs between YAML 1.1 (libyaml) and 1.2 (ruamel), plus
# tags, anchors, merges, duplicates and directives.
SNIPPETS = [
    "name: web\nimage: acme/web:1.0\nport: 8080\n",
    "a: yes\nb: no\nc: on\nd: off\ne: y\nf: N\n",
    "a: true\nb: True\nc: TRUE\nd: false\ne: tRUE\n",
    "a: 010\nb: 0o10\nc: 0x1F\nd: 1_000\ne: 1:30\nf: +5\ng: -0\n",
    "a: 1.5\nb: 1.\nc: .5\nd: 1e3\ne: .inf\nf: -.INF\ng: .nan\nh: 1.10\n",
    "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\n",
    "a: ~\nb: null\nc: NULL\nd:\ne: Null\nf: nUll\n",
    "a: !!str 8080\nb: !!int '3'\nc: !custom x\nd: !!binary aGk=\n",
    "a: &x {k: v}\nb: *x\n",
    "base: &b {image: x}\napp:\n  <<: *b\n  port: 1\n",
    "a: 1\na: 2\n",
    "%YAML 1.1\n---\na: yes\n",
    "a: =\nb: '<<'\nc: \"yes\"\nd: |\n  multi\n  line\ne: >\n  folded\n",
    "1: one\ntrue: t\nnull: n\n1.5: f\n",
    "command: [--queue, -v, '-5', 5, 0.5, yes]\n",
    "env:\n  A: 'it''s'\n  B: \"tab\\there\"\n  C: plain # comment\n",
    "- a list\n- at the top\n",
    "just a string\n",
    "",
    "a: [unclosed\n",
    "a: 1\n---\nb: 2\n",
    "a: 2s\nb: 1m30s\nc: 256Mi\nd: 1.5h\ne: 512m\nf: 1g\ng: 500ms\nh: 1_0s\ni: 10Gb\n",
]


@pytest.mark.parametrize("text", SNIPPETS)
def test_the_fast_reading_equals_ruamels_or_gives_up(text: str) -> None:
    try:
        fast = fast_data(text)
    except NotCertain:
        return
    assert fast == ruamel_data(text)


@pytest.mark.parametrize(
    "text",
    [
        "name: web\nimage: acme/web:1.0\nport: !!str 8080\n",
        "name: web\nimage: acme/web:1.0\nport: 8080\nport: 8081\n",
        "name: web\nimage: acme/web:1.0\nport: 1:30\n",
        "%YAML 1.1\n---\nname: web\nimage: x\nenv: {A: yes}\n",
    ],
)
def test_the_fast_path_never_accepts_what_the_precise_path_rejects(text: str) -> None:
    try:
        parse_manifest(text, file="apps/web.yaml")
    except ManifestErrors:
        assert fast_manifest(text) is None


TYPICAL = """\
# a comment
name: shop
envFrom: [shared-creds]
secretFiles: [tls-bundle]
services:
  - name: web
    image: acme/web:1.0
    port: 8080
    replicas: 2
    env: {LOG_LEVEL: info, GREETING: "hello 'world'", RATIO: 0.5}
    envFrom: [web-creds]
  - name: worker
    image: acme/worker:1.0
    command: [worker, --queue, default, "5"]
"""


@pytest.mark.parametrize(
    "text",
    [TYPICAL, *(p.read_text() for p in sorted(EXAMPLES.rglob("apps/*.yaml")))],
)
def test_typical_manifests_take_the_fast_path_and_read_as_ruamel_reads_them(text: str) -> None:
    fast = fast_manifest(text)
    assert fast is not None
    assert fast == validate_manifest(ruamel_data(text), file="apps/x.yaml")
    assert parse_manifest(text, file="apps/x.yaml") == fast


def test_errors_come_from_the_precise_path_with_positions() -> None:
    text = TYPICAL.replace("    port: 8080\n", "    port: 8080\n    prot: 1\n")
    with pytest.raises(ManifestErrors) as caught:
        parse_manifest(text, file="apps/shop.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "apps/shop.yaml:9:5: services.0.prot: unknown field"
    ]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "apps" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_reports_every_problem_of_every_file_at_once(tmp_path: Path) -> None:
    write(tmp_path, "ok.yaml", "name: ok\nimage: acme/ok:1\n")
    write(tmp_path, "web.yaml", "name: web\nimage: acme/web:1\nport: 99999\nreplica: 2\n")
    write(tmp_path, "shop.yaml", "name: shop\nservices:\n  - name: Api\n    image: ''\n")
    write(tmp_path, "dup.yaml", "name: dup\nname: again\nimage: x\n")

    result = CliRunner().invoke(app, ["validate", str(tmp_path / "apps")])

    assert result.exit_code == 1
    apps = tmp_path / "apps"
    assert result.stderr.splitlines() == [
        f'{apps}/dup.yaml:2:1: duplicate key "name"',
        f"{apps}/shop.yaml:4:12: services.0.image: String should have at least 1 character",
        f"{apps}/shop.yaml:3:11: services.0.name: must be a DNS label: lowercase letters, "
        "digits and '-', at most 63",
        f"{apps}/web.yaml:3:7: port: Input should be less than or equal to 65535",
        f"{apps}/web.yaml:4:1: replica: unknown field",
        "5 problem(s) in 4 file(s)",
    ]


def test_validate_accepts_the_examples_and_says_how_many(tmp_path: Path) -> None:
    for i in range(30):
        write(tmp_path, f"a{i}.yaml", f"name: a{i}\nimage: acme/a:{i}\nenv: {{ON: yes}}\n")

    result = CliRunner().invoke(app, ["validate", str(tmp_path / "apps")])

    assert result.exit_code == 0, result.output
    assert result.stdout == "30 manifest(s) valid\n"


def test_validate_with_nothing_to_check_fails(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])

    assert result.exit_code == 1
    assert "no manifest files found" in result.stderr


def test_validate_explains_why_host_privileges_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "web.yaml", "name: web\nimage: x\ncap_add: [SYS_ADMIN]\npid: host\n")

    result = CliRunner().invoke(app, ["validate", str(tmp_path / "apps")])

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{tmp_path}/apps/web.yaml:3:1: cap_add: adding capabilities is ")
    assert lines[1].startswith(f"{tmp_path}/apps/web.yaml:4:1: pid: pid is refused: `host` would")
    assert "unknown field" not in result.stderr
