"""The written manifest: schema line first, a header saying where it came from, and YAML that
every reader (ruamel, libyaml) loads back to exactly the converted values."""

from __future__ import annotations

import io
import json
from typing import Any

import yaml as libyaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gitberth.convert.mapping import Conversion
from gitberth.convert.notes import Note, NoteKind
from gitberth.convert.render import manifest_yaml, report_json, report_text
from gitberth.core.errors import ManifestProblem
from tests.support.examples import examples
from tests.unit.convert.snippets import convert, one_service


def ruamel_load(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(io.StringIO(text))


def test_the_schema_line_comes_first_then_the_source_and_what_was_not_carried() -> None:
    conversion = convert(one_service("image: a\nprivileged: true\ndepends_on: [db]"))

    lines = manifest_yaml(conversion, source="compose.yaml", schema="../s.json").splitlines()

    assert lines[:6] == [
        "# yaml-language-server: $schema=../s.json",
        "# converted from compose.yaml by gitberth convert",
        "# not carried over (see the report of gitberth convert):",
        "#   web: privileged",
        "#   web: depends_on",
        "name: shop",
    ]


def test_a_clean_conversion_has_no_not_carried_block() -> None:
    text = manifest_yaml(convert(one_service("image: a")), source="c.yaml", schema="s.json")

    assert "not carried" not in text


def test_strings_a_yaml_1_1_reader_would_retype_are_quoted() -> None:
    conversion = convert(
        one_service(
            "image: a\nrestart: 'no'\nenvironment:\n  A: 'yes'\n  B: 'on'\n  C: '1:30'\n"
            "  D: '0755'\n  E: '~'\n  F: '2001-01-01'\n  G: '0x1F'\n  H: '1e3'"
        )
    )
    text = manifest_yaml(conversion, source="c.yaml", schema="s.json")

    assert libyaml.safe_load(text) == ruamel_load(text) == dict(conversion.manifest)
    assert 'restart: "no"' in text


def test_a_rich_manifest_loads_back_identically_in_both_readers() -> None:
    conversion = convert(
        "services:\n  web:\n    image: acme/web:1.0\n    command: [sh, -c, 'echo a: b # c || d']\n"
        "    ports: ['127.0.0.1:8080:80', '9090']\n    volumes: ['data:/data', './x:/x:ro']\n"
        "    labels: {'traefik.http.routers.web.rule': 'Host(`a.example`)'}\n"
        "    healthcheck: {test: [CMD-SHELL, 'wget -q -O- http://x/ || exit 1'], interval: 1m30s}\n"
        "volumes: {data: {}}\n"
    )
    text = manifest_yaml(conversion, source="c.yaml", schema="s.json")

    assert libyaml.safe_load(text) == ruamel_load(text) == dict(conversion.manifest)


TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)


ENV_NAME = st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=examples(150), deadline=None)
@given(
    env=st.dictionaries(ENV_NAME, TEXT, max_size=4), command=st.lists(TEXT, min_size=1, max_size=4)
)
def test_any_env_value_and_command_word_round_trips(
    env: dict[str, str], command: list[str]
) -> None:
    service = {"name": "web", "image": "a", "command": command}
    if env:
        service["env"] = env
    conversion = Conversion(app="shop", manifest={"name": "shop", "services": [service]}, notes=())

    text = manifest_yaml(conversion, source="c.yaml", schema="s.json")

    assert ruamel_load(text) == dict(conversion.manifest)
    assert libyaml.safe_load(text) == dict(conversion.manifest)


def test_a_command_word_that_pure_python_yaml_refuses_plain_is_quoted() -> None:
    # Found by the property above: libyaml reads `[0?]` as ["0?"], PyYAML's pure-Python
    # reader (what most tools load YAML with) refuses it.
    service = {"name": "web", "image": "a", "command": ["0?"]}
    conversion = Conversion(app="shop", manifest={"name": "shop", "services": [service]}, notes=())

    text = manifest_yaml(conversion, source="c.yaml", schema="s.json")

    assert libyaml.load(text, Loader=libyaml.SafeLoader) == dict(conversion.manifest)
    assert ruamel_load(text) == dict(conversion.manifest)


NOTES = (
    Note("web", "privileged", NoteKind.REFUSED, "gitberth never grants host privileges", 7),
    Note("web", "build", NoteKind.NOT_CARRIED, "gitberth deploys images; build and push first", 5),
    Note("web", "ports", NoteKind.CHANGED, "published on 127.0.0.1", 9),
    Note("web", "secrets[0]", NoteKind.TODO, "upload secret db", 11),
    Note(None, "version", NoteKind.NOT_CARRIED, "obsolete", 1),
)
PROBLEM = ManifestProblem("apps/shop.yaml", 9, 5, "services.0.user", "bad user")


def test_the_text_report_groups_notes_by_what_the_user_has_to_do() -> None:
    conversion = Conversion(app="shop", manifest={"name": "shop", "services": [{}]}, notes=NOTES)

    text = report_text(
        conversion, source="compose.yaml", written="apps/shop.yaml", problems=[PROBLEM]
    )

    assert text.splitlines() == [
        "compose.yaml: wrote apps/shop.yaml: app shop, 1 service(s)",
        "not carried over:",
        "  web: privileged (refused: gitberth never grants host privileges)",
        "  web: build (not carried: gitberth deploys images; build and push first)",
        "  version (not carried: obsolete)",
        "carried over differently:",
        "  web: ports (changed: published on 127.0.0.1)",
        "to do before deploying:",
        "  web: secrets[0] (to do: upload secret db)",
        "the manifest does not validate yet (fix these by hand):",
        "  apps/shop.yaml:9:5: services.0.user: bad user",
    ]


def test_the_json_report_lists_the_manifest_every_note_and_validity() -> None:
    conversion = Conversion(app="shop", manifest={"name": "shop", "services": []}, notes=NOTES)

    document = json.loads(
        report_json(
            conversion,
            source="compose.yaml",
            written=None,
            problems=[PROBLEM],
            manifest_text="name: shop\n",
        )
    )

    assert document["app"] == "shop" and document["written"] is None
    assert document["manifest"] == {"name": "shop", "services": []}
    assert document["notes"][0] == {
        "service": "web",
        "key": "privileged",
        "kind": "refused",
        "reason": "gitberth never grants host privileges",
        "line": 7,
    }
    assert [n["kind"] for n in document["notes"]] == [
        "refused",
        "not_carried",
        "changed",
        "todo",
        "not_carried",
    ]
    assert document["yaml"] == "name: shop\n"
    assert document["valid"] is False
    assert document["problems"] == ["apps/shop.yaml:9:5: services.0.user: bad user"]
