"""``serve --config gitberth.yaml`` and ``--source NAME=URL[#BRANCH][:DIR]``: what a user writes
becomes the sources a serve follows, and every mistake names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gitberth.cli import app
from gitberth.core.errors import ConfigError
from gitberth.serve_config import load_config, parse_source_option, webhook_secret


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gitberth.yaml"
    path.write_text(text)
    return path


GOOD = """\
sources:
  - name: team-a
    url: https://git.example.com/team-a/deploy.git
    credentials: team-a-git
    webhookSecretEnv: TEAM_A_HOOK
    default: true
  - name: team-b
    url: ssh://git@git.example.com/team-b/deploy.git
    branch: release
    appsDir: deploy/apps
"""


def test_a_config_lists_sources_with_their_defaults(tmp_path: Path) -> None:
    loaded = load_config(config(tmp_path, GOOD))
    a, b = loaded.sources
    assert (a.name, a.branch, a.apps_dir, a.credentials) == ("team-a", "main", "apps", "team-a-git")
    assert (b.branch, b.apps_dir, b.credentials, b.default) == (
        "release",
        "deploy/apps",
        None,
        False,
    )
    assert loaded.default_source() == a
    assert a.source_id != b.source_id


def test_the_webhook_secret_comes_from_the_named_variable_never_the_file(tmp_path: Path) -> None:
    a = load_config(config(tmp_path, GOOD)).sources[0]
    assert webhook_secret(a, environ={"TEAM_A_HOOK": "s3cret"}) == "s3cret"
    with pytest.raises(ConfigError, match="TEAM_A_HOOK, which is not set"):
        webhook_secret(a, environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "sources:\n  - name: a\n    url: /r\n    colour: red\n",
            ":4: sources.0.colour: unknown field",
        ),
        ("sources:\n  - name: a\n    url: /r\n  - name: b\n", ":4: sources.1.url: required"),
        ("sources:\n  - name: Team A\n    url: /r\n", ":2: sources.0.name: must be a DNS label"),
        (
            "sources:\n  - {name: a, url: /r}\n  - {name: a, url: /s}\n",
            ":1: sources: two sources are named a",
        ),
        (
            "sources:\n  - {name: a, url: /r}\n  - {name: b, url: /r/}\n",
            "sources a and b follow the same repository",
        ),
        (
            "sources:\n  - {name: a, url: /r, default: true}\n"
            "  - {name: b, url: /s, default: true}\n",
            "only one source may be the default",
        ),
        ("sources: []\n", "sources: List should have at least 1 item"),
        ("sources:\n  - name: a\n    url: /r\n  name: b\n", ":4: expected <block end>"),
        (
            "sources:\n  - {name: a, url: /r, webhookSecretEnv: 'x-y'}\n",
            "sources.0.webhookSecretEnv: must be a variable name",
        ),
        ("- a\n", ":1: expected a mapping with a 'sources' list"),
    ],
)
def test_a_mistake_names_the_file_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = config(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(str(path))
    assert expected in str(raised.value)


def test_an_unreadable_or_binary_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(tmp_path / "missing.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


@pytest.mark.parametrize(
    ("option", "url", "branch", "apps_dir"),
    [
        ("a=https://h/r.git", "https://h/r.git", "main", "apps"),
        ("a=https://h/r.git#release", "https://h/r.git", "release", "apps"),
        ("a=git@h:org/r.git#release:deploy", "git@h:org/r.git", "release", "deploy"),
        ("a=ssh://git@h:22/r.git#:deploy/apps", "ssh://git@h:22/r.git", "main", "deploy/apps"),
        ("a=/srv/git/ops", "/srv/git/ops", "main", "apps"),
    ],
)
def test_source_options_split_url_branch_and_apps_dir(
    option: str, url: str, branch: str, apps_dir: str
) -> None:
    source = parse_source_option(option)
    assert (source.name, source.url, source.branch, source.apps_dir) == ("a", url, branch, apps_dir)


@pytest.mark.parametrize("option", ["https://h/r.git", "=https://h/r", "a=", "A B=/r"])
def test_a_malformed_source_option_is_refused(option: str) -> None:
    with pytest.raises(ConfigError, match="--source"):
        parse_source_option(option)


def test_serve_refuses_a_bad_config_before_starting(tmp_path: Path) -> None:
    path = config(tmp_path, "sources:\n  - name: a\n    url: /r\n    colour: red\n")
    result = CliRunner().invoke(
        app, ["serve", "--state-dir", str(tmp_path / "state"), "--config", str(path)]
    )
    assert result.exit_code == 2
    assert f"{path}:4: sources.0.colour: unknown field" in result.output.replace("\n", "")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--repo", "/r", "--source", "a=/s"], "--repo and --source cannot be combined"),
        (["--source", "a=/r", "--source", "a=/s"], "two sources are named a"),
        (["--source", "a=/r", "--default-source", "b"], "no --source has that name"),
        (["--default-source", "b"], "--default-source needs --source"),
        (["--repo", "/r", "--apps-dir", ""], "--repo, --branch or --apps-dir is empty (apps_dir)"),
    ],
)
def test_serve_refuses_sources_given_twice_or_unclear(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = CliRunner().invoke(app, ["serve", "--state-dir", str(tmp_path / "state"), *args])
    assert result.exit_code == 2
    assert expected in " ".join(result.output.split())
