"""The dashboard's history and logs panel in Debian's headless Chromium: an app's revisions with
who and why, a rollback from a history row that ends as a commit, and its logs, followed live."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest
from playwright.sync_api import Dialog, expect

from tests.e2e.conftest import StartServer
from tests.e2e.test_dashboard import Tab, browser, sign_in, tab  # noqa: F401, F811 - fixtures
from tests.support.gitrepo import GitRepo, app_yaml
from tests.support.waiting import wait_until

pytestmark = pytest.mark.docker

TIMEOUT_MS = 30_000


def chatty(level: str) -> str:
    command = (
        'command: [sh, -c, \'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); '
        'echo "tick $LEVEL $i"; sleep 0.3; done & wait\']\n'
    )
    return app_yaml("web", port=None, env={"LEVEL": level}, extra=command)


def test_history_rows_offer_a_rollback_and_logs_follow_live(
    start_server: StartServer,
    tmp_path: Path,
    clean_engine: docker.DockerClient,
    tab: Tab,  # noqa: F811
) -> None:
    repo = GitRepo(tmp_path / "repo")
    first = repo.commit({"apps/web.yaml": chatty("one")}, message="web: level one")
    server = start_server(repo=repo.path, extra_args=("--grace", "1"))
    with server.client() as api:
        wait_until(lambda: api.get("/apps/web").json().get("appliedRevision") == first)
        second = repo.commit(
            {"apps/web.yaml": chatty("two")}, message='level two <img src=x id="injected">'
        )
        wait_until(lambda: api.get("/apps/web").json().get("appliedRevision") == second)
        wait_until(lambda: len(api.get("/apps/web/history").json()["entries"]) == 2)

    page = tab.page
    sign_in(tab, server)
    expect(page.locator("#ops-app option[value='web']")).to_have_count(1, timeout=TIMEOUT_MS)
    page.select_option("#ops-app", "web")
    rows = page.locator("#history-body tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text('level two <img src=x id="injected">')
    expect(rows.nth(0)).to_contain_text("gitberth tests")
    expect(rows.nth(0)).to_contain_text("replace web-1")
    expect(rows.nth(1)).to_contain_text("create web-1: new app")
    assert page.locator("#injected").count() == 0

    expect(page.locator("#log-output")).to_contain_text("web-1 | tick two")
    page.check("#log-follow")
    expect(page.locator("#log-message")).to_contain_text("Following")
    before = page.locator("#log-output").inner_text().count("\n")
    wait_until(lambda: page.locator("#log-output").inner_text().count("\n") >= before + 3)
    tab.screenshot("history-and-logs")

    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_test_id(f"rollback-{first}").click()
    message = page.locator("#history-message")
    expect(message).to_contain_text("Committed", timeout=TIMEOUT_MS)
    expect(message).to_contain_text("secrets are not rolled back")
    assert "Secrets are not rolled back" in dialogs[0]
    head = repo.repo.commit("main")
    assert head.message.startswith(f"rollback web to {first[:12]}")

    expect(rows.first).to_contain_text(f"restores {first[:12]}", timeout=TIMEOUT_MS)
    expect(rows.first).to_contain_text("token env")
    # The followed stream ends with the replaced container; a new load shows the new one.
    page.uncheck("#log-follow")
    page.get_by_role("button", name="Load").click()
    expect(page.locator("#log-output")).to_contain_text("tick one", timeout=TIMEOUT_MS)
    tab.screenshot("rolled-back")
