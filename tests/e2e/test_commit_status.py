"""serve --commit-status: each applied commit gets pending, then success or failure naming the
failed apps, on a local server that checks every request against the forge's documented API:

- GitHub: ``POST /repos/{owner}/{repo}/statuses/{sha}``, ``Authorization: Bearer``,
  state pending|success|failure|error, description up to 140 characters, context;
- Gitea: the same path under ``/api/v1``, ``Authorization: token``;
- GitLab: ``POST /api/v4/projects/{id}/statuses/{sha}``, ``PRIVATE-TOKEN``,
  state pending|running|success|failed|canceled, name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.e2e.conftest import StartServer
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.receiver import Rule, receiving
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

TOKEN = "forge-token-sentinel-5e1d"
COMMAND = "command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']\n"
SHA = r"[0-9a-f]{40}"


def _body_keys(body: Any, allowed: set[str], required: set[str]) -> str | None:
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if set(body) - allowed:
        return f"unknown fields {sorted(set(body) - allowed)}"
    if required - set(body):
        return f"missing {sorted(required - set(body))}"
    if len(str(body.get("description", ""))) > 140:
        return "description over 140 characters"
    return None


def github_rule(prefix: str) -> Rule:
    def check(path: str, headers: dict[str, str], body: Any) -> str | None:
        if not re.fullmatch(rf"{prefix}/repos/acme/shop/statuses/{SHA}", path):
            return f"path {path}"
        if headers.get("authorization") != f"Bearer {TOKEN}" and prefix == "":
            return "authorization"
        if prefix == "/api/v1" and headers.get("authorization") != f"token {TOKEN}":
            return "authorization"
        if prefix == "" and headers.get("accept") != "application/vnd.github+json":
            return "accept"
        if not headers.get("content-type", "").startswith("application/json"):
            return "content-type"
        states = {"pending", "success", "failure", "error"} | (
            {"warning"} if prefix == "/api/v1" else set()
        )
        if body.get("state") not in states:
            return f"state {body.get('state')}"
        return _body_keys(
            body, {"state", "target_url", "description", "context"}, {"state", "context"}
        )

    return check


def gitlab_rule(path: str, headers: dict[str, str], body: Any) -> str | None:
    if not re.fullmatch(rf"/api/v4/projects/acme%2Fshop/statuses/{SHA}", path):
        return f"path {path}"
    if headers.get("private-token") != TOKEN:
        return "private-token"
    if body.get("state") not in {"pending", "running", "success", "failed", "canceled"}:
        return f"state {body.get('state')}"
    return _body_keys(
        body,
        {"state", "ref", "name", "context", "target_url", "description", "coverage",
         "pipeline_id"},
        {"state"},
    )  # fmt: skip


RULES: dict[str, Rule] = {
    "github": github_rule(""),
    "gitea": github_rule("/api/v1"),
    "gitlab": gitlab_rule,
}
FAILURE = {"github": "failure", "gitea": "failure", "gitlab": "failed"}


def states_of(received: list[Any], sha: str) -> list[str]:
    return [r.body["state"] for r in received if r.path.endswith(sha)]


@pytest.mark.parametrize("forge", ["github", "gitea", "gitlab"])
def test_each_applied_commit_gets_pending_then_success_or_failure(
    forge: str,
    start_server: StartServer,
    tmp_path: Path,
    clean_engine: docker.DockerClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = GitRepo(tmp_path / "repo")
    good = repo.commit({"apps/web.yaml": app_yaml("web", port=None, extra=COMMAND)})
    monkeypatch.setenv("GITBERTH_COMMIT_STATUS_TOKEN", TOKEN)
    with receiving(rule=RULES[forge]) as forge_api:
        server = start_server(
            repo=repo.path,
            extra_args=(
                "--grace", "1",
                "--commit-status", forge,
                "--commit-status-url", forge_api.url,
                "--commit-status-repo", "acme/shop",
            ),
        )  # fmt: skip
        wait_until(lambda: len(states_of(forge_api.all(), good)) >= 2, timeout=30)
        assert [(r.status, r.problem) for r in forge_api.all()] == [(201, None)] * len(
            forge_api.all()
        ), "every request has the documented shape"
        assert states_of(forge_api.all(), good) == ["pending", "success"]
        name_key = "name" if forge == "gitlab" else "context"
        assert forge_api.all()[0].body[name_key] == "gitberth"

        bad = repo.commit(
            {"apps/web.yaml": app_yaml("web", image="gitberth/absent:1", port=None, extra=COMMAND)}
        )
        wait_until(lambda: len(states_of(forge_api.all(), bad)) >= 2, timeout=30)
        assert states_of(forge_api.all(), bad) == ["pending", FAILURE[forge]]
        last = [r for r in forge_api.all() if r.path.endswith(bad)][-1]
        assert last.body["description"] == "failed: web"
        assert all(r.status == 201 for r in forge_api.all())
        metrics = httpx.get(f"{server.url}/metrics", headers=server.auth).text
        assert 'gitberth_commit_statuses_total{outcome="sent",state="failure"} 1.0' in metrics
        assert 'gitberth_commit_statuses_total{outcome="sent",state="pending"} 2.0' in metrics
    assert TOKEN not in server.logs()
    assert server.process is not None
    cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
    assert TOKEN.encode() not in cmdline, "the token is never on the command line"


def test_commit_status_without_a_token_or_repo_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from tests.e2e.conftest import GITBERTH

    monkeypatch.delenv("GITBERTH_COMMIT_STATUS_TOKEN", raising=False)
    base = [GITBERTH, "serve", "--state-dir", str(tmp_path / "s"), "--repo", str(tmp_path)]
    for extra, message in (
        (
            ["--commit-status", "github", "--commit-status-repo", "a/b"],
            "GITBERTH_COMMIT_STATUS_TOKEN",
        ),
        (["--commit-status", "github"], "--commit-status-repo"),
        (["--commit-status", "bitbucket"], "github, gitea or gitlab"),
    ):
        result = subprocess.run(
            base + extra, capture_output=True, text=True, timeout=30, check=False
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
