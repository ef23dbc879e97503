"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright) against a
real ``gitberth serve``: sign in with a token, save secrets through the Secrets panel, deploy
through the deploy form, and watch the Apps panel and the seal banner, as the guide describes.

A secret value typed into the page must never come back: not in the DOM, not in any response
the page received, not in the server's log. These tests never skip: without Chromium they fail,
because ``make test`` installs it (``scripts/bootstrap.sh``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import docker
import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from tests.e2e.conftest import Server, StartServer
from tests.support.gitrepo import GitRepo, app_yaml, read_only_remote

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DB_VALUE = "postgres://u:sentinel-dash-db-7c1e@host/db"
CERT_VALUE = "sentinel-dash-cert-93ab"
KEY_VALUE = "sentinel-dash-key-52fd"
SCOPED_VALUE = "sentinel-dash-scoped-e04a"
ALL_VALUES = (DB_VALUE, CERT_VALUE, KEY_VALUE, SCOPED_VALUE)
DEPLOY_TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard tests need Debian's chromium "
            "(scripts/bootstrap.sh installs it; apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Tab:
    """One page plus everything it saw: responses, console messages and script errors."""

    page: Page
    shots: Path
    bodies: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def record(self, request: Request) -> None:
        """Keep the body of every API answer (read at once: a navigation discards it)."""
        response = request.response()
        if request.resource_type == "fetch" and response is not None and response.status != 204:
            self.bodies.append(response.text())

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_never_shows(self, *values: str) -> None:
        """No value in the serialized DOM, in any field, in storage or in any response body."""
        seen = self.page.evaluate(
            """() => [
                document.documentElement.outerHTML,
                ...Array.from(document.querySelectorAll("input, select, textarea"), (i) => i.value),
                JSON.stringify(Object.entries(sessionStorage)),
                JSON.stringify(Object.entries(localStorage)),
            ].join("\\n")"""
        )
        for value in values:
            assert value not in self.page.content()
            assert value not in seen
            assert self.bodies, "the page's API answers were recorded"
            for body in self.bodies:
                assert value not in body


@pytest.fixture
def tab(browser: Browser, tmp_path: Path) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    opened = Tab(page=page, shots=shots)
    page.on("requestfinished", opened.record)
    page.on("console", lambda message: opened.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    yield opened
    context.close()
    assert opened.errors == [], "the page's script threw"
    violations = [m for m in opened.console if "Content Security Policy" in m]
    assert violations == [], "the page broke its own CSP"


def sign_in(tab: Tab, server: Server) -> None:
    page = tab.page
    page.goto(f"{server.url}/")
    expect(page.locator("#login-panel")).to_be_visible()
    page.fill("#login-token", server.token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#dashboard")).to_be_visible()
    expect(page.locator("#login-token")).to_have_value("")


def save_secret(
    tab: Tab, *, name: str, data: dict[str, str], app: str | None = None, new_app: bool = False
) -> None:
    """Fill the Secrets panel the way the guide says: name + key/value pairs, Scope, Save."""
    page = tab.page
    page.fill("#secret-name", name)
    for index, (key, value) in enumerate(data.items()):
        if index > 0:
            page.get_by_role("button", name="Add key").click()
        page.locator(".pair-key").nth(index).fill(key)
        page.locator(".pair-value").nth(index).fill(value)
    if app is None:
        page.select_option("#secret-scope", "")
    elif new_app:
        page.select_option("#secret-scope", "other")
        page.fill("#secret-scope-app", app)
    else:
        page.select_option("#secret-scope", f"app:{app}")
    page.get_by_role("button", name="Save secret").click()
    expect(page.locator("#secret-message")).to_contain_text(f"Created {name}")
    row = page.locator(f'#secrets-body tr[data-secret="{name}"][data-scope="{app or "shared"}"]')
    expect(row).to_contain_text(" ".join(data))
    # The form is cleared: one empty pair, no name, scope back to Shared.
    expect(page.locator("#secret-name")).to_have_value("")
    expect(page.locator(".pair-value")).to_have_count(1)
    expect(page.locator(".pair-value")).to_have_value("")
    expect(page.locator("#secret-scope")).to_have_value("")


def test_page_is_served_with_a_strict_csp_and_no_inline_script(server: Server) -> None:
    for path in ("/", "/ui/"):
        response = httpx.get(f"{server.url}{path}")
        assert response.status_code == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "unsafe" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        scripts = re.findall(r"<script\b[^>]*>", response.text)
        assert scripts and all("src=" in tag for tag in scripts), "no inline script"
        assert "<style" not in response.text and " style=" not in response.text
        assert not re.search(r"<[^>]*\son\w+\s*=", response.text), "no inline handler"
    script = httpx.get(f"{server.url}/ui/static/dashboard.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    sinks = r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|console\."
    assert not re.search(sinks, script.text), "text nodes only, nothing logged"
    assert httpx.get(f"{server.url}/ui/static/..%2Fdashboard.py").status_code == 404
    assert httpx.get(f"{server.url}/ui/static/missing.js").status_code == 404


def test_sign_in_then_secrets_are_listed_by_name_and_key_but_never_shown(
    server: Server, tab: Tab
) -> None:
    page = tab.page
    page.goto(f"{server.url}/")
    expect(page.locator("#dashboard")).to_be_hidden()
    expect(page.locator("#seal-status")).to_have_text("Unsealed")
    page.fill("#login-token", "not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-message")).to_contain_text("Unknown token")
    expect(page.locator("#dashboard")).to_be_hidden()

    sign_in(tab, server)
    values = page.locator(".pair-value")
    assert values.get_attribute("type") == "password"
    assert values.get_attribute("autocomplete") == "off"
    save_secret(tab, name="db-creds", data={"DATABASE_URL": DB_VALUE})
    save_secret(tab, name="db-creds", data={"DATABASE_URL": SCOPED_VALUE}, app="app1", new_app=True)
    save_secret(tab, name="tls-bundle", data={"TLS_CERT": CERT_VALUE, "TLS_KEY": KEY_VALUE})
    rows = page.locator("#secrets-body tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("db-creds")
    expect(rows.nth(0)).to_contain_text("Shared")
    expect(rows.nth(1)).to_contain_text("App: app1")
    expect(rows.nth(1)).to_contain_text("DATABASE_URL")
    expect(rows.nth(2)).to_contain_text("TLS_CERT TLS_KEY")
    # The scope picker now offers app1, and the deploy form offers every secret by name.
    expect(page.locator("#secret-scope option[value='app:app1']")).to_have_count(1)
    expect(page.locator("#deploy-env-from input[type=checkbox]")).to_have_count(2)
    expect(page.locator("#deploy-secret-files label").first).to_contain_text("db-creds")
    tab.screenshot("secrets")
    tab.assert_never_shows(*ALL_VALUES)
    assert not any(v in server.logs() for v in ALL_VALUES)

    # Still signed in after a reload (sessionStorage), and the token is not in the page.
    page.reload()
    expect(page.locator("#secrets-body tr")).to_have_count(3)
    assert server.token not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('#secrets-body tr[data-scope="app1"]').get_by_role("button").click()
    expect(page.locator("#secret-message")).to_contain_text("Deleted db-creds (scoped to app1)")
    expect(page.locator("#secrets-body tr")).to_have_count(2)
    with server.client() as api:
        listed = api.get("/secrets").json()["secrets"]
    assert {(s["name"], s["appId"]) for s in listed} == {("db-creds", None), ("tls-bundle", None)}

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#login-panel")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_sealed_store_shows_the_banner_and_503_until_unsealed(server: Server, tab: Tab) -> None:
    page = tab.page
    sign_in(tab, server)
    banner = page.locator("#sealed-banner")
    expect(banner).to_be_hidden()
    with server.client() as api:
        assert api.post("/admin/seal").status_code == 200
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("POST /admin/unseal")
    expect(page.locator("#seal-status")).to_have_text("Sealed")
    expect(page.locator("#secrets-body")).to_contain_text("sealed")

    page.fill("#secret-name", "db-creds")
    page.locator(".pair-key").fill("DATABASE_URL")
    page.locator(".pair-value").fill(DB_VALUE)
    page.get_by_role("button", name="Save secret").click()
    expect(page.locator("#secret-message")).to_contain_text("503 sealed")
    page.fill("#deploy-name", "api")
    page.fill("#deploy-image", "gitberth/example-web:1.0")
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#deploy-result")).to_contain_text("503 sealed")
    tab.screenshot("sealed")

    # The banner is public: a tab that never signed in sees it too.
    other = page.context.new_page()
    other.goto(f"{server.url}/ui/")
    expect(other.locator("#sealed-banner")).to_be_visible()
    expect(other.locator("#dashboard")).to_be_hidden()
    other.close()

    key = (server.state_dir / "master.key").read_text().strip()
    with server.client() as api:
        assert api.post("/admin/unseal", json={"key": key}).json()["sealed"] is False
    expect(banner).to_be_hidden()
    expect(page.locator("#seal-status")).to_have_text("Unsealed")
    expect(page.locator("#secrets-body")).to_contain_text("No secrets yet")
    page.get_by_role("button", name="Save secret").click()
    expect(page.locator("#secret-message")).to_contain_text("Created db-creds")
    tab.assert_never_shows(DB_VALUE)


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repository = GitRepo(tmp_path / "repo")
    repository.commit({"README.md": "apps live in apps/\n"}, message="start")
    return repository


@pytest.mark.docker
def test_deploy_through_the_form_runs_the_app_with_env_and_files(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient, tab: Tab
) -> None:
    server = start_server(repo=repo.path, extra_args=("--grace", "2"))
    page = tab.page
    sign_in(tab, server)
    expect(page.locator("#apps-body")).to_contain_text("No apps yet")
    save_secret(tab, name="db-creds", data={"DATABASE_URL": DB_VALUE})
    save_secret(tab, name="tls-bundle", data={"TLS_CERT": CERT_VALUE, "TLS_KEY": KEY_VALUE})
    save_secret(tab, name="app1-only", data={"TOKEN": SCOPED_VALUE}, app="app1", new_app=True)

    page.fill("#deploy-name", "api")
    page.fill("#deploy-image", "gitberth/example-web:1.0")
    page.fill("#deploy-port", "8080")
    page.check("#deploy-env-from input[value='db-creds']")
    page.check("#deploy-secret-files input[value='tls-bundle']")
    page.get_by_role("button", name="Deploy").click()
    result = page.locator("#deploy-result")
    expect(result).to_contain_text("Deployed api", timeout=DEPLOY_TIMEOUT_MS)
    expect(result).to_contain_text("create api-1 — new app")
    url = result.locator("a").first.get_attribute("href")
    assert url is not None and url.startswith("http://127.0.0.1:")

    row = page.locator('#apps-body tr[data-app="api"]')
    expect(row).to_contain_text("Synced", timeout=DEPLOY_TIMEOUT_MS)
    expect(row).to_contain_text("Healthy")
    expect(row.locator("a")).to_have_attribute("href", url)
    listing = httpx.get(urljoin(url, "/cgi-bin/index.cgi"), timeout=10).text  # the example page
    assert "DATABASE_URL" in listing and "TLS_CERT" in listing
    container = clean_engine.containers.get("api-1")
    assert f"DATABASE_URL={DB_VALUE}" in container.attrs["Config"]["Env"]
    code, files = container.exec_run(["ls", "/run/secrets"])
    assert (code, files.decode()) == (0, "TLS_CERT\nTLS_KEY\n")
    head = repo.repo.commit("main")
    assert "db-creds" in (head.tree / "apps" / "api.yaml").data_stream.read().decode()
    tab.screenshot("deployed")

    # app1-only is scoped to app1, so for another app it does not exist: 400 unknown_secret.
    page.fill("#deploy-name", "other")
    page.uncheck("#deploy-env-from input[value='db-creds']")
    page.uncheck("#deploy-secret-files input[value='tls-bundle']")
    page.check("#deploy-env-from input[value='app1-only']")
    page.get_by_role("button", name="Deploy").click()
    expect(result).to_contain_text("400 unknown_secret")
    expect(result.locator("ul.missing li")).to_have_text(["app1-only"])
    tab.screenshot("unknown-secret")
    assert repo.repo.commit("main").hexsha == head.hexsha

    # A name that is not a DNS label is an invalid manifest; the markup in it stays text.
    page.uncheck("#deploy-env-from input[value='app1-only']")
    page.fill("#deploy-name", '<img src=x id="injected">')
    page.get_by_role("button", name="Deploy").click()
    expect(result).to_contain_text("400 invalid_manifest")
    expect(result.locator("ul.problems li").first).to_contain_text("name")
    assert page.locator("#injected").count() == 0

    # An app a person must fix shows its last error, classed Stalled.
    repo.commit(
        {"apps/broken.yaml": app_yaml("broken", extra="envFrom: [nowhere]\n")}, message="broken"
    )
    broken = page.locator('#apps-body tr[data-app="broken"]')
    expect(broken).to_contain_text("Stalled", timeout=DEPLOY_TIMEOUT_MS)
    expect(broken).to_contain_text("unknown_secret")
    expect(row).to_contain_text("Synced")
    tab.screenshot("apps")
    tab.assert_never_shows(*ALL_VALUES)
    assert not any(v in server.logs() for v in ALL_VALUES)


@pytest.mark.docker
def test_a_remote_repo_answers_read_only_in_the_form(
    start_server: StartServer, tmp_path: Path, tab: Tab
) -> None:
    remote = read_only_remote(tmp_path / "remote.git")
    server = start_server(name="remote", repo=f"file://{remote.git_dir}")
    page = tab.page
    sign_in(tab, server)
    page.fill("#deploy-name", "api")
    page.fill("#deploy-image", "gitberth/example-web:1.0")
    page.get_by_role("button", name="Deploy").click()
    expect(page.locator("#deploy-result")).to_contain_text("409 read_only_repo")
    expect(page.locator("#deploy-result")).to_contain_text("pull request")


@pytest.mark.docker
def test_the_apps_panel_shows_health_as_the_engine_reports_it(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient, tab: Tab
) -> None:
    check = "healthcheck: {http: %s, interval: 300ms, timeout: 1s, retries: 2}\n"
    repo.commit(
        {
            "apps/good.yaml": app_yaml("good", extra=check % "/"),
            "apps/sick.yaml": app_yaml("sick", extra=check % "/missing"),
        }
    )
    server = start_server(repo=repo.path, extra_args=("--grace", "2"))
    page = tab.page
    sign_in(tab, server)

    good = page.locator('#apps-body tr[data-app="good"]')
    expect(good).to_contain_text("Synced", timeout=DEPLOY_TIMEOUT_MS)
    expect(good).to_contain_text("Healthy")
    expect(good).to_contain_text("(running, healthy)")
    sick = page.locator('#apps-body tr[data-app="sick"]')
    expect(sick).to_contain_text("Degraded", timeout=DEPLOY_TIMEOUT_MS)
    expect(sick).to_contain_text("Unhealthy")
    expect(sick).to_contain_text("(running, unhealthy)")
    expect(sick).to_contain_text("404 Not Found")
    tab.screenshot("health")


@pytest.mark.docker
def test_the_apps_panel_names_the_volumes_that_hold_an_apps_data(
    start_server: StartServer, repo: GitRepo, clean_engine: docker.DockerClient, tab: Tab
) -> None:
    volume = "rollout: stopFirst\nvolumes: [{name: data, path: /data}]\n"
    repo.commit({"apps/keeper.yaml": app_yaml("keeper", extra=volume)})
    server = start_server(repo=repo.path, extra_args=("--grace", "2"))
    page = tab.page
    sign_in(tab, server)

    keeper = page.locator('#apps-body tr[data-app="keeper"]')
    expect(keeper).to_contain_text("Synced", timeout=DEPLOY_TIMEOUT_MS)
    expect(keeper).to_contain_text("volumes: keeper_data")
    apps = server.client().get("/apps").json()["apps"]
    (state,) = [a for a in apps if a["name"] == "keeper"]
    assert state["containers"][0]["volumes"] == ["keeper_data"]


@pytest.mark.docker
def test_the_apps_panel_names_the_source_of_each_app_when_a_server_follows_several(
    start_server: StartServer, tmp_path: Path, clean_engine: docker.DockerClient, tab: Tab
) -> None:
    team_a, team_b = GitRepo(tmp_path / "team-a"), GitRepo(tmp_path / "team-b")
    team_a.commit({"apps/alpha.yaml": app_yaml("alpha")})
    team_b.commit({"apps/beta.yaml": app_yaml("beta")})
    server = start_server(
        extra_args=(
            "--grace", "2",
            "--source", f"team-a={team_a.path}", "--source", f"team-b={team_b.path}",
        )
    )  # fmt: skip
    page = tab.page
    sign_in(tab, server)

    beta = page.locator('#apps-body tr[data-app="beta"]')
    expect(beta).to_contain_text("Synced", timeout=DEPLOY_TIMEOUT_MS)
    expect(beta.locator("td.source")).to_have_text("team-b")
    expect(page.locator('#apps-body tr[data-app="alpha"] td.source')).to_have_text("team-a")
    expect(page.locator("#apps-source-heading")).to_be_visible()
    summary = page.locator('#loop-summary [data-source="team-b"]')
    expect(summary).to_contain_text(f"team-b: {team_b.path.resolve()} (main)")
    expect(summary).to_contain_text("Docker reachable")
    tab.screenshot("several-sources")
