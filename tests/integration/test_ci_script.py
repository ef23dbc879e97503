"""examples/ci/: the shell script a CI job runs on a pull request, against a real repository
with a base and a head branch, and the GitHub Actions workflow that calls it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

from tests.support.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "ci" / "pr-plan.sh"
WORKFLOW = ROOT / "examples" / "ci" / "github-actions.yml"
BIN = Path(sys.executable).parent

WEB = "name: web\nimage: gitberth/example-web:1.0\nport: 8080\nenv:\n  LOG_LEVEL: info\n"
API = "name: api\nimage: gitberth/example-web:1.0\n"


def run_script(
    repo: GitRepo, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], str, str]:
    """Run pr-plan.sh as CI would; return the process, the comment file and what was posted."""
    out, posted = tmp_path / "comment.md", tmp_path / "posted.md"
    done = subprocess.run(
        ["sh", str(SCRIPT), *args, str(repo.path)],
        env={
            "PATH": f"{BIN}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "OUT": str(out),
            "COMMENT_CMD": f"cat > '{posted}'",
            "GITHUB_OUTPUT": str(tmp_path / "github-output"),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    comment = out.read_text() if out.exists() else ""
    return done, comment, posted.read_text() if posted.exists() else ""


def test_a_pull_request_gets_a_plan_comment_and_passes(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit({"apps/web.yaml": WEB, "apps/api.yaml": API}, message="base")
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit({"apps/web.yaml": WEB.replace("info", "debug")}, message="debug logs")
    git_repo.repo.git.checkout("main")  # the script must not depend on what is checked out

    done, comment, posted = run_script(git_repo, tmp_path, "main", "feature")

    assert done.returncode == 0, done.stderr
    assert posted == comment
    assert comment.startswith("<!-- gitberth-plan -->\n### gitberth plan: `")
    assert "→ `feature`" in comment
    assert "| `web` | 🟡 changed | 1 | 0 | 0 |" in comment
    assert "- `env LOG_LEVEL`: `info` → `debug`" in comment
    assert "2 manifest(s) valid" in done.stderr
    assert (tmp_path / "github-output").read_text() == "changes=true\n"


def test_only_the_pull_requests_own_changes_appear(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit({"apps/web.yaml": WEB, "apps/api.yaml": API}, message="base")
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit({"apps/web.yaml": WEB.replace("info", "debug")}, message="pr")
    git_repo.repo.git.checkout("main")
    git_repo.commit({"apps/api.yaml": API.replace("1.0", "2.0")}, message="landed meanwhile")

    _, comment, _ = run_script(git_repo, tmp_path, "main", "feature")

    assert "`web`" in comment
    assert "`api`" not in comment  # main's later change is not shown as a revert


def test_an_invalid_manifest_fails_the_job_and_the_comment_says_where(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    git_repo.commit({"apps/web.yaml": WEB}, message="base")
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit(
        {"apps/web.yaml": WEB.replace("port: 8080", "port: 99999"), "apps/x.yaml": "name: [\n"},
        message="broken",
    )

    done, comment, posted = run_script(git_repo, tmp_path, "main", "feature")

    assert done.returncode == 1
    assert posted == comment
    assert "❌ **Blocked:**" in comment
    assert "`apps/web.yaml:3:7: port: Input should be less than or equal to 65535`" in comment
    assert "gitberth validate: every problem" in comment
    assert "apps/web.yaml:3:7: port: Input should be less than or equal to 65535" in done.stderr
    assert "apps/x.yaml:2:1:" in done.stderr


def test_no_change_passes_and_says_nothing_changes(git_repo: GitRepo, tmp_path: Path) -> None:
    git_repo.commit({"apps/web.yaml": WEB}, message="base")
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit({"README.md": "docs\n"}, message="docs")

    done, comment, _ = run_script(git_repo, tmp_path, "main", "feature")

    assert done.returncode == 0, done.stderr
    assert "✅ **Nothing changes.**" in comment
    assert (tmp_path / "github-output").read_text() == "changes=false\n"


def test_usage_is_explained(tmp_path: Path) -> None:
    done = subprocess.run(["sh", str(SCRIPT)], capture_output=True, text=True, check=False)

    assert done.returncode == 64
    assert "usage:" in done.stderr


def test_the_workflow_runs_the_script_on_pull_requests_and_is_a_valid_workflow() -> None:
    workflow = YAML(typ="safe", pure=True).load(WORKFLOW.read_text())

    assert list(workflow["on"]) == ["pull_request"]
    steps = workflow["jobs"]["plan"]["steps"]
    assert any("pr-plan.sh" in str(step.get("run", "")) for step in steps)
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    done = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_usage_error_is_not_mistaken_for_changes(git_repo: GitRepo, tmp_path: Path) -> None:
    """Click exits 2 on a usage error too (an older gitberth without --base, say)."""
    git_repo.commit({"apps/web.yaml": WEB}, message="base")
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit({"apps/web.yaml": WEB.replace("info", "debug")}, message="pr")
    old = tmp_path / "old-gitberth"
    old.write_text(
        '#!/bin/sh\n[ "$1" = validate ] && exit 0\necho "No such option: --base" >&2\nexit 2\n'
    )
    old.chmod(0o755)

    done, _, posted = run_script(git_repo, tmp_path, "main", "feature", env={"GITBERTH": str(old)})

    assert done.returncode == 1
    assert "No such option: --base" in done.stderr
    assert posted == ""


def test_a_server_that_does_not_answer_still_gets_the_offline_plan_posted(
    git_repo: GitRepo, tmp_path: Path
) -> None:
    git_repo.commit({"apps/web.yaml": WEB}, message="base")
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit({"apps/web.yaml": WEB.replace("info", "debug")}, message="pr")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    done, comment, posted = run_script(
        git_repo,
        tmp_path,
        "main",
        "feature",
        env={"GITBERTH_SERVER": f"http://127.0.0.1:{closed_port}", "GITBERTH_TOKEN": "t"},
    )

    assert done.returncode == 3
    assert "cannot reach the gitberth server" in done.stderr
    assert posted == comment
    assert "| `web` | 🟡 changed | 1 | 0 | 0 |" in comment
    assert "Secrets were not checked: the gitberth server did not answer." in comment
