"""`gitberth plan --base --head` on real Git repositories, and `--server` against real HTTP.

No Docker: the review is offline by design. The secret checks run against a real
`gitberth serve` (which holds a sentinel secret value) and against a small stdlib HTTP server
for the replies a real server should never give.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from typer.testing import CliRunner

from gitberth.cli import app
from gitberth.cli.review_commands import display_url
from gitberth.core.sync_status import (
    AppError,
    AppHealth,
    AppList,
    AppStanding,
    ContainerInfo,
    ErrorClass,
    SourceStanding,
    SyncState,
)
from gitberth.render.markdown import escape
from gitberth.render.report import plan_schema
from tests.support.gitrepo import GitRepo

ROOT = Path(__file__).resolve().parents[2]
GITBERTH = str(Path(sys.executable).with_name("gitberth"))
SENTINEL = "S3NTINEL-secret-value-must-never-print-7f3a"
TOKEN = "review-test-token-0123456789abcdef0123"

WEB = """\
name: web
image: gitberth/example-web:1.0
port: 8080
env:
  LOG_LEVEL: info
"""
SHOP = """\
name: shop
envFrom: [shop-creds]
services:
  - name: api
    image: gitberth/example-web:1.0
    port: 8080
    replicas: 2
    secretFiles: [tls-bundle]
  - name: worker
    image: gitberth/example-web:1.0
"""


def branches(repo: GitRepo, *, base: dict[str, str], head: dict[str, str]) -> None:
    """``main`` holds *base*; ``feature`` (checked out) changes it to *head*."""
    repo.commit(base, message="base")
    repo.repo.git.checkout("-b", "feature")
    gone = tuple(path for path in base if path not in head)
    repo.commit({p: t for p, t in head.items() if base.get(p) != t}, remove=gone, message="head")


def plan(repo: GitRepo, *args: str) -> Any:
    return CliRunner().invoke(app, ["plan", "--repo", str(repo.path), *args])


@pytest.fixture
def pull_request(git_repo: GitRepo) -> GitRepo:
    branches(
        git_repo,
        base={
            "apps/web.yaml": WEB,
            "apps/shop.yaml": SHOP,
            "apps/old.yaml": WEB.replace("web", "old"),
        },
        head={
            "apps/web.yaml": WEB.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"),
            "apps/shop.yaml": SHOP.replace("replicas: 2", "replicas: 3"),
            "apps/new.yaml": WEB.replace("web", "new"),
        },
    )
    return git_repo


def test_text_review_of_a_pull_request_exits_2(pull_request: GitRepo) -> None:
    result = plan(pull_request, "--base", "main", "--head", "feature")

    assert result.exit_code == 2, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("plan main (")
    assert "apps: 1 added, 2 changed, 1 removed" in lines[0]
    assert "      env LOG_LEVEL changed: info -> debug" in lines
    assert "      replace web-1: env LOG_LEVEL changed: info -> debug" in lines
    assert "      create  shop-api-3: replicas 2 -> 3" in lines
    assert "      remove  old-1: app removed" in lines
    assert "      create  new-1: new app" in lines
    assert "\x1b[" not in result.stdout  # not a terminal: no colour


def test_head_defaults_to_the_branch_tip(pull_request: GitRepo) -> None:
    explicit = plan(pull_request, "--base", "main", "--head", "feature", "--format", "json")
    implicit = plan(pull_request, "--base", "main", "--branch", "feature", "--format", "json")

    assert implicit.exit_code == explicit.exit_code == 2
    assert json.loads(implicit.stdout)["apps"] == json.loads(explicit.stdout)["apps"]
    assert json.loads(implicit.stdout)["head"]["ref"] == "feature"


def test_json_review_follows_the_schema(pull_request: GitRepo) -> None:
    result = plan(pull_request, "--base", "main", "--head", "feature", "--format", "json")

    document = json.loads(result.stdout)
    jsonschema.validate(document, plan_schema())
    assert document["exitCode"] == result.exit_code == 2
    shop = next(a for a in document["apps"] if a["name"] == "shop")
    assert [c["name"] for c in shop["services"][0]["containers"]] == ["shop-api-3"]


def test_markdown_review_is_a_comment_a_reviewer_can_act_on(pull_request: GitRepo) -> None:
    result = plan(pull_request, "--base", "main", "--head", "feature", "--format", "markdown")

    assert result.exit_code == 2
    comment = result.stdout
    assert comment.startswith("<!-- gitberth-plan -->\n### gitberth plan: `main` → `feature`")
    assert "| `web` | 🟡 changed | 1 | 0 | 0 |" in comment
    assert "| `old` | 🔴 removed | 0 | 0 | 1 |" in comment
    assert "- `env LOG_LEVEL`: `info` → `debug`" in comment
    assert comment.count("<details>") == 4


def test_no_change_exits_0(git_repo: GitRepo) -> None:
    git_repo.commit({"apps/web.yaml": WEB})
    git_repo.repo.git.checkout("-b", "feature")
    git_repo.commit({"README.md": "docs only\n"})

    result = plan(git_repo, "--base", "main", "--head", "feature")

    assert result.exit_code == 0
    assert "no changes (1 app(s) unchanged)" in result.stdout


def test_an_invalid_head_manifest_exits_1_with_file_line_and_column(git_repo: GitRepo) -> None:
    branches(
        git_repo,
        base={"apps/web.yaml": WEB},
        head={"apps/web.yaml": WEB.replace("port: 8080", "port: 99999\nreplica: 2")},
    )

    result = plan(git_repo, "--base", "main", "--head", "feature", "--format", "markdown")

    assert result.exit_code == 1
    assert "apps/web.yaml:3:7: port: Input should be less than or equal to 65535" in result.stderr
    assert "apps/web.yaml:4:1: replica: unknown field" in result.stderr
    assert "`apps/web.yaml:3:7: port: Input should be less than or equal to 65535`" in (
        result.stdout
    )


def test_an_invalid_manifest_the_change_does_not_touch_is_still_reported(
    git_repo: GitRepo,
) -> None:
    """Every head manifest is validated, changed or not: merging head deploys all of them, and
    an unchanged file can be what holds its app."""
    broken = WEB.replace("web", "old").replace("port: 8080", "port: 99999")
    branches(
        git_repo,
        base={"apps/web.yaml": WEB, "apps/old.yaml": broken},
        head={
            "apps/web.yaml": WEB.replace("LOG_LEVEL: info", "LOG_LEVEL: debug"),
            "apps/old.yaml": broken,
        },
    )

    result = plan(git_repo, "--base", "main", "--head", "feature", "--format", "json")

    assert result.exit_code == 1
    assert "apps/old.yaml:3:7: port: Input should be less than or equal to 65535" in result.stderr
    report = json.loads(result.stdout)
    assert [app["name"] for app in report["apps"] if app["problems"]] == ["old"]


def test_an_unknown_revision_is_a_one_line_error(git_repo: GitRepo) -> None:
    git_repo.commit({"apps/web.yaml": WEB})

    result = plan(git_repo, "--base", "no-such-branch")

    assert result.exit_code == 1
    assert "revision 'no-such-branch' not found" in result.stderr
    assert "Traceback" not in result.output


def test_the_installed_command_exits_with_the_review_code(pull_request: GitRepo) -> None:
    """The exit code CI sees, through the real entry point and no test runner."""
    done = subprocess.run(
        [GITBERTH, "plan", "--repo", str(pull_request.path), "--base", "main", "--head", "feature"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "remove  old-1: app removed" in done.stdout


@pytest.mark.parametrize("output", ["json", "markdown", "text"])
def test_the_installed_command_writes_the_whole_report_before_it_ends(
    pull_request: GitRepo, output: str
) -> None:
    """The entry point ends a review's process without the interpreter's teardown: every byte
    of the report must be out first, exactly what the in-process command prints."""
    args = ["plan", "--repo", str(pull_request.path), "--base", "main", "--head", "feature"]
    done = subprocess.run(
        [GITBERTH, *args, "--format", output], capture_output=True, text=True, check=False
    )
    in_process = plan(pull_request, "--base", "main", "--head", "feature", "--format", output)

    assert done.returncode == in_process.exit_code == 2
    assert done.stdout == in_process.stdout
    assert gc.isenabled()  # the in-process review gave the collector back


# --- --server: a real `gitberth serve` ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


SECRETS = (
    {"name": "shop-creds", "data": {"DATABASE_URL": SENTINEL, "API_KEY": SENTINEL}},
    {"name": "shop-creds", "appId": "shop", "data": {"DATABASE_URL": SENTINEL}},
    {"name": "tls-bundle", "data": {"CERT": SENTINEL}},
)


@contextlib.contextmanager
def serving(state: Path, *args: str) -> Iterator[str]:
    """A real `gitberth serve` on 127.0.0.1 holding :data:`SECRETS`, whose values are the
    sentinel; yields its URL and stops it on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = state.parent / f"{state.name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [GITBERTH, "serve", "--state-dir", str(state), "--listen", f"127.0.0.1:{port}", *args],
            env={**os.environ, "GITBERTH_TOKEN": TOKEN},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "gitberth serve did not start"
                time.sleep(0.1)
            auth = {"authorization": f"Bearer {TOKEN}"}
            for body in SECRETS:
                httpx.post(f"{url}/secrets", json=body, headers=auth, timeout=10).raise_for_status()
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The API only: no repository, so no reconcile loop and no Docker."""
    with serving(tmp_path / "state") as url:
        yield url


@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_server_check_lists_key_names_and_never_a_value(
    pull_request: GitRepo, server: str, output_format: str
) -> None:
    result = plan(
        pull_request,
        *("--base", "main", "--head", "feature", "--format", output_format),
        *("--server", server, "--token", TOKEN),
    )

    assert result.exit_code == 2, result.output
    assert "DATABASE_URL" in result.stdout
    assert "CERT" in result.stdout
    assert SENTINEL not in result.output
    assert TOKEN not in result.output


def test_server_check_uses_the_app_scoped_secret_and_names_what_is_missing(
    git_repo: GitRepo, server: str
) -> None:
    branches(
        git_repo,
        base={"apps/shop.yaml": SHOP},
        head={"apps/shop.yaml": SHOP.replace("[shop-creds]", "[shop-creds, mail-creds]")},
    )

    result = CliRunner(env={"GITBERTH_TOKEN": TOKEN}).invoke(
        app,
        [
            *("plan", "--repo", str(git_repo.path), "--base", "main", "--head", "feature"),
            *("--format", "json", "--server", server),
        ],
    )

    assert result.exit_code == 1
    live = json.loads(result.stdout)["live"]
    assert live["secretsOk"] is False
    assert [(f["app"], f["secret"], f["code"]) for f in live["findings"]] == [
        ("shop", "mail-creds", "unknown_secret")
    ]
    assert "shop: secret mail-creds exists neither for app shop nor shared" in result.stderr
    api_creds = next(
        u for u in live["uses"] if u["service"] == "api" and u["secret"] == "shop-creds"
    )
    assert (api_creds["scope"], api_creds["keys"]) == ("shop", ["DATABASE_URL"])
    assert live["running"]["available"] is False
    assert "GET /apps" in live["running"]["note"]
    assert SENTINEL not in result.output


def test_a_wrong_token_is_refused_without_echoing_it(pull_request: GitRepo, server: str) -> None:
    result = plan(pull_request, "--base", "main", "--server", server, "--token", "not-a-token")

    assert result.exit_code == 1
    assert "refused the token" in result.stderr
    assert "not-a-token" not in result.output


def test_an_unreachable_server_exits_3(pull_request: GitRepo) -> None:
    url = f"http://user:password@127.0.0.1:{free_port()}/"
    result = plan(pull_request, "--base", "main", "--server", url, "--token", TOKEN)

    assert result.exit_code == 3
    assert "cannot reach the gitberth server at http://127.0.0.1:" in result.stderr
    assert "password" not in result.output


# --- --server: replies a real server never gives -----------------------------------------------


class _Misbehaving(BaseHTTPRequestHandler):
    """Sends secret values it must not send, or odd statuses, to prove the client ignores
    values and reports oddities as one-line errors."""

    replies: dict[str, tuple[int, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
        status, body = self.replies.get(self.path, (404, b'{"error":"not_found"}'))
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def odd_server() -> Iterator[tuple[str, dict[str, tuple[int, bytes]]]]:
    replies: dict[str, tuple[int, bytes]] = {}
    handler = type("Handler", (_Misbehaving,), {"replies": replies})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", replies
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.mark.parametrize("output_format", ["text", "markdown", "json"])
def test_values_a_broken_server_sends_are_never_printed(
    pull_request: GitRepo,
    odd_server: tuple[str, dict[str, tuple[int, bytes]]],
    output_format: str,
) -> None:
    url, replies = odd_server
    listing = {
        "secrets": [
            {
                "name": name,
                "appId": None,
                "keys": ["DATABASE_URL"],
                "updatedAt": "2026-11-26T10:00:00Z",
                "data": {"DATABASE_URL": SENTINEL},
                "value": SENTINEL,
            }
            for name in ("shop-creds", "tls-bundle")
        ]
    }
    replies["/secrets"] = (200, json.dumps(listing).encode())

    result = plan(
        pull_request,
        *("--base", "main", "--head", "feature", "--format", output_format),
        *("--server", url, "--token", TOKEN),
    )

    assert result.exit_code == 2, result.output
    assert SENTINEL not in result.output


@pytest.mark.parametrize(
    ("status", "body", "code", "message"),
    [
        (503, b'{"error":"sealed"}', 3, "is sealed"),
        (200, b'{"nope": true}', 3, "did not answer with a secret list"),
        (500, b"oops " + SENTINEL.encode(), 3, "answered 500"),
        (403, b'{"error":"forbidden"}', 1, "refused the token"),
    ],
)
def test_odd_server_replies_are_one_line_errors(
    pull_request: GitRepo,
    odd_server: tuple[str, dict[str, tuple[int, bytes]]],
    status: int,
    body: bytes,
    code: int,
    message: str,
) -> None:
    url, replies = odd_server
    replies["/secrets"] = (status, body)

    result = plan(pull_request, "--base", "main", "--server", url, "--token", TOKEN)

    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert SENTINEL not in result.output


def test_head_is_compared_with_what_the_server_says_runs(
    pull_request: GitRepo, odd_server: tuple[str, dict[str, tuple[int, bytes]]]
) -> None:
    """GET /apps in the server's own response model (gitberth.core.sync_status.AppList)."""
    url, replies = odd_server
    sha = pull_request.repo.commit("main").hexsha
    secrets = [{"name": n, "appId": None, "keys": ["K"]} for n in ("shop-creds", "tls-bundle")]
    replies["/secrets"] = (200, json.dumps({"secrets": secrets}).encode())

    def container(name: str, image: str, state: str = "running") -> ContainerInfo:
        return ContainerInfo(
            name=name, service=name.rsplit("-", 1)[0], state=state, image=image, revision=sha
        )

    apps = [
        AppStanding(
            name="web",
            sync=SyncState.SYNCED,
            health=AppHealth.HEALTHY,
            desired_revision=sha,
            applied_revision=sha,
            containers=(container("web-1", "gitberth/example-web:1.0"),),
        ),
        AppStanding(
            name="shop",
            sync=SyncState.DEGRADED,
            health=AppHealth.UNHEALTHY,
            desired_revision=sha,
            applied_revision=sha,
            containers=(
                container("shop-api-1", "gitberth/example-web:0.9"),
                container("shop-api-2", "gitberth/example-web:1.0"),
                container("shop-worker-1", "gitberth/example-web:1.0", "exited"),
            ),
            error=AppError(
                kind=ErrorClass.WAITING,
                code="not_running",
                message="shop-worker-1 is exited",
                at=0.0,
            ),
        ),
    ]
    body = AppList(sources=[], apps=apps).to_json()
    replies["/apps"] = (200, json.dumps(body).encode())
    args = ("--base", "main", "--head", "feature", "--server", url, "--token", TOKEN)

    result = plan(pull_request, *args, "--format", "json")

    assert result.exit_code == 2, result.output
    running = json.loads(result.stdout)["live"]["running"]
    assert running["available"] is True
    by_app = {a["name"]: a for a in running["apps"]}
    assert set(by_app) == {"shop", "new"}  # web runs the image head wants; old is not running
    assert by_app["shop"]["sync"] == "Degraded"
    assert by_app["shop"]["error"] == "not_running: shop-worker-1 is exited"
    assert [(c["name"], c["action"]) for c in by_app["shop"]["containers"]] == [
        ("shop-api-1", "replace"),
        ("shop-api-3", "create"),
        ("shop-worker-1", "replace"),
    ]
    assert [c["action"] for c in by_app["new"]["containers"]] == ["create"]

    comment = plan(pull_request, *args, "--format", "markdown").stdout
    assert escape("runs image gitberth/example-web:0.9, head wants") in comment
    text = plan(pull_request, *args).stdout
    assert "  app shop: Degraded, Unhealthy, applied " in text
    assert "    replace shop-worker-1: container is exited" in text


@pytest.mark.parametrize("several", [True, False])
def test_each_running_app_is_named_with_its_source_when_the_server_has_several(
    pull_request: GitRepo, odd_server: tuple[str, dict[str, tuple[int, bytes]]], several: bool
) -> None:
    url, replies = odd_server
    sha = pull_request.repo.commit("main").hexsha
    secrets = [{"name": n, "appId": None, "keys": ["K"]} for n in ("shop-creds", "tls-bundle")]
    replies["/secrets"] = (200, json.dumps({"secrets": secrets}).encode())
    names = ("team-a", "team-b") if several else ("default",)
    blog = AppStanding(
        name="blog",
        source=names[-1],
        sync=SyncState.SYNCED,
        health=AppHealth.HEALTHY,
        applied_revision=sha,
        containers=(
            ContainerInfo(
                name="blog-1", service="blog", state="running", image="x:1", revision=sha
            ),
        ),
    )
    listing = AppList(sources=[SourceStanding(name=n) for n in names], apps=[blog])
    replies["/apps"] = (200, json.dumps(listing.to_json()).encode())
    args = ("--base", "main", "--head", "feature", "--server", url, "--token", TOKEN)

    document = json.loads(plan(pull_request, *args, "--format", "json").stdout)
    jsonschema.validate(document, plan_schema())
    by_app = {a["name"]: a for a in document["live"]["running"]["apps"]}
    assert by_app["blog"]["source"] == ("team-b" if several else None)
    assert by_app["new"]["source"] is None  # not running anywhere yet
    text = plan(pull_request, *args).stdout
    named = "  app blog (source team-b): Synced, Healthy" in text
    assert named is several
    assert ("  app blog: Synced, Healthy" in text) is not several


def test_rev_and_head_together_are_refused(pull_request: GitRepo) -> None:
    result = plan(pull_request, "--base", "main", "--rev", "feature")

    assert result.exit_code == 1
    assert "--rev is for the live dry run" in result.stderr


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8700", "http://[bad", "ftp://127.0.0.1:1", "", "http://u:pw@127.0.0.1:99999"]
)
def test_a_server_that_is_not_an_http_url_is_refused_without_echoing_it(
    pull_request: GitRepo, url: str
) -> None:
    result = plan(pull_request, "--base", "main", "--server", url, "--token", TOKEN)

    assert result.exit_code == 1
    assert "--server must be an http(s) URL" in result.stderr
    assert "pw" not in result.output
    assert "Traceback" not in result.output


def test_server_urls_are_shown_without_credentials() -> None:
    assert display_url("https://user:pw@example.test:8443/base/?t=1#x") == (
        "https://example.test:8443/base"
    )
    assert display_url("http://[::1]:8700") == "http://[::1]:8700"


# --- --server: a real server that runs the loop on the real engine -----------------------------


@pytest.mark.docker
def test_head_is_compared_with_what_the_loop_runs(
    git_repo: GitRepo, clean_engine: object, tmp_path: Path
) -> None:
    """`serve --repo` applies main; the review of a branch then names what runs differently."""
    shop = SHOP.replace("replicas: 2", "replicas: 1")
    branches(
        git_repo,
        base={"apps/web.yaml": WEB, "apps/shop.yaml": shop},
        head={
            "apps/web.yaml": WEB.replace("example-web:1.0", "example-web:1.1"),
            "apps/shop.yaml": shop,
            "apps/new.yaml": WEB.replace("web", "new"),
        },
    )
    git_repo.repo.git.checkout("main")
    loop_args = ("--repo", str(git_repo.path), "--grace", "1", "--interval", "1")
    with serving(tmp_path / "state", *loop_args) as url:
        auth = {"authorization": f"Bearer {TOKEN}"}
        deadline = time.monotonic() + 60
        while True:  # secrets were written after start: wait until shop runs too
            apps = httpx.get(f"{url}/apps", headers=auth, timeout=10).json()["apps"]
            if {a["name"]: a["sync"] for a in apps} == {"shop": "Synced", "web": "Synced"}:
                break
            assert time.monotonic() < deadline, apps
            time.sleep(0.2)

        outputs = {
            fmt: plan(
                git_repo,
                *("--base", "main", "--head", "feature", "--format", fmt),
                *("--server", url, "--token", TOKEN),
            )
            for fmt in ("text", "markdown", "json")
        }

    for result in outputs.values():
        assert result.exit_code == 2, result.output
        assert SENTINEL not in result.output
    running = json.loads(outputs["json"].stdout)["live"]["running"]
    assert running["available"] is True
    changes = {
        c["name"]: (c["action"], c["reason"]) for app in running["apps"] for c in app["containers"]
    }
    assert changes == {
        "new-1": ("create", "not running now"),
        "web-1": (
            "replace",
            "runs image gitberth/example-web:1.0, head wants gitberth/example-web:1.1",
        ),
    }
    assert "replace web-1: runs image gitberth/example-web:1.0" in outputs["text"].stdout


@pytest.mark.docker
def test_the_review_names_consumers_a_secret_written_since_they_started_will_restart(
    git_repo: GitRepo, clean_engine: object, tmp_path: Path
) -> None:
    """A deterministic window where a secret changed but its consumer was not replaced: the
    consumer's app is held (its manifest is invalid on main) while the secret is rotated. The
    loop replaces the other consumer at once, so only the held one is named, and merging the
    fix restarts it with the new value. (While the store is sealed the loop holds every
    consumer too, but GET /secrets answers 503 then, so a review cannot be made at all.)"""
    consumer = WEB + "envFrom: [db-creds]\n"
    api = consumer.replace("name: web", "name: api")
    git_repo.commit({"apps/web.yaml": consumer, "apps/api.yaml": api}, message="consumers")
    auth = {"authorization": f"Bearer {TOKEN}"}
    rotated = SENTINEL + "-rotated"
    loop_args = ("--repo", str(git_repo.path), "--grace", "1", "--interval", "1")

    def apps(url: str) -> dict[str, Any]:
        listing = httpx.get(f"{url}/apps", headers=auth, timeout=10).json()["apps"]
        return {a["name"]: a for a in listing}

    def wait_for(url: str, ready: Any) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while not ready(current := apps(url)):
            assert time.monotonic() < deadline, current
            time.sleep(0.2)
        return current

    with serving(tmp_path / "state", *loop_args) as url:
        secret = {"name": "db-creds", "data": {"DATABASE_URL": SENTINEL}}
        httpx.post(f"{url}/secrets", json=secret, headers=auth, timeout=10).raise_for_status()
        running = wait_for(
            url, lambda a: [a.get(n, {}).get("sync") for n in ("api", "web")] == ["Synced"] * 2
        )
        (web_before,) = running["web"]["containers"]
        (api_before,) = running["api"]["containers"]
        assert web_before["createdAt"].endswith("Z")

        git_repo.commit({"apps/web.yaml": consumer + "colour: blue\n"}, message="typo")
        wait_for(url, lambda a: (a["web"].get("error") or {}).get("code") == "invalid_manifest")
        started = datetime.fromisoformat(web_before["createdAt"]).timestamp()
        time.sleep(max(0.0, started + 1.1 - time.time()))  # the engine lists whole seconds
        secret["data"] = {"DATABASE_URL": rotated}
        httpx.post(f"{url}/secrets", json=secret, headers=auth, timeout=10).raise_for_status()
        # The loop replaces api at once; web is held with the container it had.
        running = wait_for(
            url,
            lambda a: (
                a["api"]["sync"] == "Synced"
                and [c["createdAt"] for c in a["api"]["containers"]] != [api_before["createdAt"]]
            ),
        )
        assert running["web"]["containers"] == [web_before]

        git_repo.repo.git.checkout("-b", "fix")
        git_repo.commit({"apps/web.yaml": consumer}, message="fix the typo")
        outputs = {
            fmt: plan(
                git_repo,
                *("--base", "main", "--head", "fix", "--format", fmt),
                *("--server", url, "--token", TOKEN),
            )
            for fmt in ("text", "markdown", "json")
        }
        git_repo.repo.git.checkout("main")

    reason = "secret db-creds (shared) changed since it started (keys DATABASE_URL)"
    for result in outputs.values():
        assert result.exit_code == 2, result.output
        assert SENTINEL not in result.output  # neither value, old or rotated
    live = json.loads(outputs["json"].stdout)["live"]
    changes = {c["name"]: c for app in live["running"]["apps"] for c in app["containers"]}
    assert set(changes) == {"web-1"}  # api-1 already runs the rotated value
    assert changes["web-1"]["action"] == "replace"
    assert changes["web-1"]["reason"] == reason
    assert changes["web-1"]["createdAt"] == web_before["createdAt"]
    (changed,) = changes["web-1"]["changedSecrets"]
    assert (changed["secret"], changed["scope"], changed["keys"]) == (
        "db-creds",
        None,
        ["DATABASE_URL"],
    )
    assert f"replace web-1: {reason}" in outputs["text"].stdout
    assert escape(reason) in outputs["markdown"].stdout
