"""`gitberth convert` as a user runs it on a real compose project: the manifest it writes, the
report of every key it could not carry over, its exit codes, and that the converted app runs.

The engine test and the `gitberth validate` test need the manifest fields of issue 9 (the
`appfields` and `netvol` branches); the rest hold on their own.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from gitberth.defaults import DEFAULT_SECRETS_ROOT
from gitberth.reconciler import reconcile_once
from gitberth.runtime.docker import DockerRuntime
from gitberth.runtime.secret_files import SecretFilesRoot
from gitberth.source import open_repo, read_revision
from tests.support.engine import remove_managed_and_test_containers
from tests.support.gitrepo import GitRepo
from tests.support.secretstore import open_store

ROOT = Path(__file__).resolve().parents[2]
GITBERTH = [sys.executable, "-m", "gitberth"]
SENTINEL = "sentinel-" + secrets.token_hex(8)

BLOG_COMPOSE = """\
# A blog: a web tier of two replicas and the API that stores its posts.
name: blog

x-health: &health
  interval: 1s
  timeout: 2s
  retries: 20

services:
  web:
    image: gitberth/example-web:1.0
    environment:
      APP_TITLE: blog
      STORE_URL: http://api:8080
      LOG_LEVEL: ${LOG_LEVEL:-info}
      API_TOKEN: ${API_TOKEN}
    env_file: .env
    ports: ["127.0.0.1::8080"]
    labels:
      traefik.enable: "true"
      traefik.http.routers.blog.rule: Host(`blog.example`)
    working_dir: /www
    stop_signal: SIGTERM
    stop_grace_period: 5s
    healthcheck:
      <<: *health
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "0.5", memory: 64M, pids: 64}
    depends_on: [api]
    secrets: [site_key]
    restart: unless-stopped
    privileged: true

  api:
    image: gitberth/example-store:1.0
    volumes: [posts:/data]
    mem_limit: 64m
    pids_limit: 64
    restart: on-failure
    healthcheck:
      <<: *health
      test: ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/cgi-bin/health"]
    networks: [default, backend]
    cap_add: [NET_ADMIN]

volumes:
  posts: {}
networks:
  backend: {}
secrets:
  site_key:
    file: ./site_key.txt
"""

EXPECTED_NOT_CARRIED = [
    "web: environment.API_TOKEN (not carried: ${API_TOKEN} is filled in from the shell",
    "web: env_file (not carried: secrets belong in the gitberth secret store",
    "web: depends_on (not carried: services start in parallel",
    "web: privileged (refused: gitberth never grants host privileges)",
    "api: cap_add (refused: gitberth never grants host privileges (no added capabilities))",
]


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GITBERTH, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})},
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A compose project as it sits in a developer's checkout, secrets next to it."""
    folder = tmp_path / "blog"
    folder.mkdir()
    (folder / "compose.yaml").write_text(BLOG_COMPOSE)
    (folder / ".env").write_text(f"API_TOKEN={SENTINEL}\nDB_PASSWORD={SENTINEL}\n")
    (folder / "site_key.txt").write_text(SENTINEL)
    return folder


def test_convert_writes_the_manifest_and_lists_each_key_it_did_not_carry(project: Path) -> None:
    done = run("convert", "compose.yaml", cwd=project)

    assert done.returncode == 0, done.stderr
    written = project / "apps" / "blog.yaml"
    lines = written.read_text().splitlines()
    assert lines[0] == "# yaml-language-server: $schema=../schemas/app.schema.json"
    assert lines[1] == "# converted from compose.yaml by gitberth convert"
    assert done.stdout.startswith("compose.yaml: wrote apps/blog.yaml: app blog, 2 service(s)")
    for expected in EXPECTED_NOT_CARRIED:
        assert any(line.strip().startswith(expected) for line in done.stdout.splitlines()), expected
    assert "upload secret site-key" in done.stdout
    assert "--rawfile v ./site_key.txt" in done.stdout


def test_the_converted_manifest_passes_gitberth_validate(project: Path) -> None:
    """Needs the issue 9 manifest fields (appfields + netvol)."""
    converted = run("convert", "compose.yaml", cwd=project)
    validated = run("validate", "apps", cwd=project)

    assert "does not validate" not in converted.stdout, converted.stdout
    assert validated.returncode == 0, validated.stderr
    assert "1 manifest(s) valid" in validated.stdout


def test_no_secret_value_reaches_the_manifest_or_the_report(project: Path) -> None:
    """The .env file, the secret file and the shell all hold a sentinel; none is read."""
    text = run("convert", "compose.yaml", cwd=project, env={"API_TOKEN": SENTINEL})
    as_json = run(
        "convert", "compose.yaml", "--out", "-", "--format", "json", cwd=project,
        env={"API_TOKEN": SENTINEL},
    )  # fmt: skip

    assert text.returncode == as_json.returncode == 0
    outputs = [text.stdout, text.stderr, as_json.stdout, as_json.stderr]
    outputs.append((project / "apps" / "blog.yaml").read_text())
    assert not [output for output in outputs if SENTINEL in output]


def test_json_report_for_scripts(project: Path) -> None:
    done = run("convert", "compose.yaml", "--format", "json", "--out", "out", cwd=project)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["app"] == "blog"
    assert report["written"] == "out/blog.yaml"
    assert [s["name"] for s in report["manifest"]["services"]] == ["web", "api"]
    refused = {(n["service"], n["key"]) for n in report["notes"] if n["kind"] == "refused"}
    assert refused == {("web", "privileged"), ("api", "cap_add")}
    privileged = next(n for n in report["notes"] if n["key"] == "privileged")
    assert privileged["line"] == BLOG_COMPOSE.splitlines().index("    privileged: true") + 1


def test_json_with_out_dash_prints_only_json_holding_the_manifest(project: Path) -> None:
    done = run("convert", "compose.yaml", "--format", "json", "--out", "-", cwd=project)

    report = json.loads(done.stdout)
    assert report["written"] is None
    assert report["yaml"].startswith("# yaml-language-server: $schema=")
    assert not (project / "apps").exists()


def test_an_output_folder_that_cannot_be_made_is_a_clear_error(project: Path) -> None:
    (project / "apps").write_text("a file, not a folder")

    done = run("convert", "compose.yaml", cwd=project)

    assert done.returncode == 1
    assert "apps/blog.yaml: cannot write" in done.stderr
    assert "Traceback" not in done.stderr


def test_out_dash_prints_the_manifest_and_reports_on_stderr(project: Path) -> None:
    done = run("convert", "compose.yaml", "--out", "-", "--app", "journal", cwd=project)

    assert done.returncode == 0
    assert done.stdout.startswith("# yaml-language-server: $schema=")
    assert "\nname: journal\n" in done.stdout
    assert "web: privileged (refused" in done.stderr
    assert not (project / "apps").exists()


def test_an_existing_manifest_is_replaced_only_with_force(project: Path) -> None:
    (project / "apps").mkdir()
    (project / "apps" / "blog.yaml").write_text("name: blog\nimage: mine\n")

    kept = run("convert", "compose.yaml", cwd=project)
    replaced = run("convert", "compose.yaml", "--force", cwd=project)

    assert kept.returncode == 1
    assert "apps/blog.yaml exists; pass --force" in kept.stderr
    assert replaced.returncode == 0
    assert "converted from compose.yaml" in (project / "apps" / "blog.yaml").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "compose.yaml: cannot read: No such file or directory"),
        (b"\xff\xfe not utf-8", "compose.yaml: cannot read: not UTF-8 text"),
        (b"services:\n  web: {image: a\n", "compose.yaml:"),
        (b"services:\n  web:\n    image: a\n    image: b\n", "compose.yaml:4:5: duplicate key"),
        (b"version: '3'\n", "no `services:` mapping"),
        (
            b"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + b"".join(
                f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]\n".encode()
                for i in range(1, 9)
            )
            + b"services: {web: {image: a, command: *a8}}\n",
            "anchors and aliases expand to more than",
        ),
    ],
    ids=["missing", "not-utf8", "broken-yaml", "duplicate-key", "no-services", "billion-laughs"],
)
def test_unreadable_input_exits_one_with_a_clear_message(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "compose.yaml").write_bytes(content)

    done = run("convert", "compose.yaml", cwd=tmp_path)

    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "apps").exists()


def test_an_app_name_that_is_not_a_dns_label_is_a_usage_error(project: Path) -> None:
    done = run("convert", "compose.yaml", "--app", "Not_A_Label", cwd=project)

    assert done.returncode == 2
    assert "DNS label" in done.stderr


def test_the_notes_example_manifest_is_what_convert_makes_of_its_compose_file(
    tmp_path: Path,
) -> None:
    example = ROOT / "examples" / "notes"
    shutil.copy(example / "compose.yaml", tmp_path / "compose.yaml")

    done = run(
        "convert", "compose.yaml", "--out", "apps", "--schema", "../../../schemas/app.schema.json",
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "apps" / "notes.yaml").read_text() == (
        example / "apps" / "notes.yaml"
    ).read_text()


# --- on the engine (needs the issue 9 runtime: appfields + netvol) --------------------------


def remove_app_storage(client: docker.DockerClient, app: str) -> None:
    """Volumes and networks outlive containers on purpose; a test removes its own."""
    for volume in client.volumes.list(filters={"label": f"gitberth.app={app}"}):
        volume.remove(force=True)
    for network in client.networks.list(filters={"label": f"gitberth.app={app}"}):
        network.remove()


@pytest.fixture
def blog_repo(project: Path, tmp_path: Path) -> Iterator[GitRepo]:
    done = run("convert", "compose.yaml", cwd=project)
    assert done.returncode == 0, done.stderr
    repo = GitRepo(tmp_path / "repo")
    repo.commit({"apps/blog.yaml": (project / "apps" / "blog.yaml").read_text()})
    yield repo


def published_port(client: docker.DockerClient, name: str, port: int = 8080) -> int:
    bindings = client.api.port(name, port)
    return int(bindings[0]["HostPort"])


@pytest.mark.docker
def test_the_converted_app_runs_on_the_engine(
    blog_repo: GitRepo, tmp_path: Path, clean_engine: docker.DockerClient
) -> None:
    store, _ = open_store(tmp_path / "state")
    store.put(name="site-key", app_id="blog", data={"site_key": SENTINEL})
    files = SecretFilesRoot(DEFAULT_SECRETS_ROOT / f"convert-{tmp_path.name}")
    try:
        result = reconcile_once(
            revision=read_revision(open_repo(blog_repo.path)),
            runtime=DockerRuntime(source="tests", grace_seconds=2, secret_files=files),
            secrets=store,
        )
        assert result.ok, {name: r.message for name, r in result.apps.items()}

        web = clean_engine.containers.get("blog-web-1")
        assert clean_engine.containers.get("blog-web-2").status == "running"
        assert web.labels["traefik.enable"] == "true"
        assert web.attrs["HostConfig"]["Memory"] == 64 * 1024**2
        assert web.attrs["HostConfig"]["PidsLimit"] == 64
        assert web.attrs["HostConfig"]["NanoCpus"] == 500_000_000
        assert web.attrs["HostConfig"]["Privileged"] is False
        assert web.attrs["Config"]["WorkingDir"] == "/www"
        assert "API_TOKEN" not in str(web.attrs["Config"]["Env"])
        assert web.exec_run(["ls", "/run/secrets"]).output.decode().split() == ["site_key"]
        api = clean_engine.containers.get("blog-api-1")
        assert api.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"
        assert api.attrs["HostConfig"]["CapAdd"] in (None, [])

        url = f"http://127.0.0.1:{published_port(clean_engine, 'blog-web-1')}/cgi-bin/notes.cgi"
        posted = httpx.post(url, content="first post", headers={"content-type": "text/plain"})
        assert posted.status_code == 303, posted.text
        assert "<li>first post</li>" in httpx.get(url).text  # web reached api by service name
    finally:
        remove_managed_and_test_containers(clean_engine)
        remove_app_storage(clean_engine, "blog")
        shutil.rmtree(files.root, ignore_errors=True)
