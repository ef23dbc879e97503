"""The dashboard under ``serve --runtime swarm``: each service lists its tasks (slot, node,
state) in a real headless Chromium, as ``GET /apps`` reports them."""

from __future__ import annotations

import docker
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import StartServer
from tests.e2e.test_dashboard import (  # noqa: F401 - the browser, tab and repo fixtures
    DEPLOY_TIMEOUT_MS,
    Tab,
    browser,
    repo,
    sign_in,
    tab,
)
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.swarm import swarm_host

pytestmark = pytest.mark.docker

QUIET = "command: [sh, -c, 'trap \"exit 0\" TERM; sleep 100000 & wait']\n"


def test_the_apps_panel_lists_each_services_tasks_with_node_and_state(
    start_server: StartServer,
    repo: GitRepo,  # noqa: F811
    clean_swarm: docker.DockerClient,
    tab: Tab,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", swarm_host())
    repo.commit({"apps/tasks.yaml": app_yaml("tasks", port=None, replicas=2, extra=QUIET)})
    server = start_server(repo=repo.path, extra_args=("--runtime", "swarm", "--grace", "1"))
    sign_in(tab, server)

    row = tab.page.locator('#apps-body tr[data-app="tasks"]')
    expect(row).to_contain_text("Synced", timeout=DEPLOY_TIMEOUT_MS)
    node = clean_swarm.info()["Name"]
    expect(row.locator("li.task")).to_have_count(2)
    expect(row).to_contain_text(f"task 1 on {node}: running")
    expect(row).to_contain_text(f"task 2 on {node}: running")
    [state] = [a for a in server.client().get("/apps").json()["apps"] if a["name"] == "tasks"]
    [service] = state["containers"]
    assert [(t["slot"], t["state"]) for t in service["tasks"]] == [(1, "running"), (2, "running")]
    tab.screenshot("swarm-tasks")
