"""Manifests that would cost more to read than any app is worth are refused, with file and line:
YAML anchors and aliases (which expand without limit), and files over the size limit."""

from __future__ import annotations

import time

import pytest

from gitberth.core import manifest_fast_path
from gitberth.core.errors import ManifestErrors
from gitberth.core.manifests import MAX_MANIFEST_BYTES, load_manifests, parse_manifest


def laughs(levels: int) -> str:
    """A "billion laughs" manifest: each level is ten aliases of the one before."""
    lines = ["name: bomb", "image: x:1", 'l0: &l0 "ha"']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*l{level - 1}"] * 10)
        lines.append(f"l{level}: &l{level} [{aliases}]")
    lines.append(f"command: *l{levels}")
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["libyaml", "ruamel"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both readers of manifests: the libyaml fast path and the ruamel path."""
    if request.param == "ruamel":
        monkeypatch.setattr(manifest_fast_path, "FAST_LOADER", None)
    return str(request.param)


def test_an_alias_bomb_is_refused_at_once_naming_file_and_line(loader: str) -> None:
    started = time.monotonic()
    with pytest.raises(ManifestErrors) as caught:
        parse_manifest(laughs(9), file="apps/bomb.yaml")
    assert time.monotonic() - started < 1.0
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column) == ("apps/bomb.yaml", 3, 5)
    assert "anchors and aliases are not allowed" in problem.message


def test_a_single_harmless_looking_anchor_is_refused_too(loader: str) -> None:
    text = "name: web\nimage: x:1\nenv: &shared {A: '1'}\n"
    with pytest.raises(ManifestErrors) as caught:
        parse_manifest(text, file="apps/web.yaml")
    assert str(caught.value) == (
        "apps/web.yaml:3:6: YAML anchors and aliases are not allowed in manifests "
        "(anchor &shared); write the value out"
    )


def test_a_manifest_over_the_size_limit_is_refused_without_being_parsed(loader: str) -> None:
    text = "name: big\nimage: x:1\nenv:\n" + "".join(
        f"  K{n}: '{'v' * 100}'\n" for n in range(MAX_MANIFEST_BYTES // 100)
    )
    with pytest.raises(ManifestErrors) as caught:
        parse_manifest(text, file="apps/big.yaml")
    assert f"a manifest may have at most {MAX_MANIFEST_BYTES} bytes" in str(caught.value)


def test_a_refused_manifest_holds_only_its_own_app() -> None:
    loaded = load_manifests(
        {
            "apps/bomb.yaml": laughs(9),
            "apps/fine.yaml": "name: fine\nimage: x:1\n",
            "apps/huge.yaml": "name: huge\n",
        },
        too_large={"apps/huge.yaml": MAX_MANIFEST_BYTES + 1},
    )
    assert sorted(loaded.apps) == ["fine"]
    assert sorted(loaded.problems) == ["bomb", "huge"]
