"""Manifest limits hold on every way in: ``validate`` on files and ``POST /deploy`` on bodies."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from gitberth.core.manifests import MAX_MANIFEST_BYTES
from tests.e2e.conftest import GITBERTH, StartServer
from tests.support.gitrepo import GitRepo


def test_validate_refuses_anchors_and_oversized_files_naming_each(tmp_path: Path) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    (apps / "alias.yaml").write_text("name: alias\nimage: x:1\nenv: &e {A: '1'}\n")
    (apps / "big.yaml").write_text("name: big\nimage: x:1\n#" + "x" * MAX_MANIFEST_BYTES + "\n")
    (apps / "fine.yaml").write_text("name: fine\nimage: x:1\n")
    result = subprocess.run(
        [GITBERTH, "validate", str(apps)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "300"},
        check=False,
    )
    assert result.returncode == 1
    assert f"{apps / 'alias.yaml'}:3:6: YAML anchors and aliases are not allowed" in result.stderr
    assert f"a manifest may have at most {MAX_MANIFEST_BYTES} bytes" in result.stderr
    assert "2 problem(s) in 3 file(s)" in result.stderr


@pytest.mark.docker
def test_a_deploy_whose_manifest_would_be_too_big_is_refused_before_any_commit(
    tmp_path: Path, start_server: StartServer
) -> None:
    repo = GitRepo(tmp_path / "repo")
    tip = repo.commit({"README.md": "apps\n"})
    server = start_server(repo=repo.path)
    env = {f"K{n}": "v" * 200 for n in range(MAX_MANIFEST_BYTES // 200 + 10)}
    with server.client() as api:
        response = api.post("/deploy", json={"name": "big", "image": "x:1", "env": env})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_manifest"
    assert f"at most {MAX_MANIFEST_BYTES} bytes" in response.text
    assert repo.repo.git.rev_parse("main") == tip
