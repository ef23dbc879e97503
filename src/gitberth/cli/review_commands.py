"""``gitberth plan --base REV --head REV``: review a deploy before it is merged.

Offline by default: both revisions are read from Git objects and compared by
:func:`gitberth.core.review.review`, with no Docker and no server, so it runs in any CI job that
has the repository. With ``--server`` it also asks a running gitberth which secrets exist
(``GET /secrets``: names, key names and when each was written) and checks every reference at
head against them, then compares head with what runs (``GET /apps``), naming the consumers that
a secret written since they started will restart.

The ``plan`` verb itself lives in :mod:`gitberth.cli.reconcile_commands` (without ``--base``
and ``--head`` it is the live dry run); it hands over to :func:`run_review`.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import BaseModel, ConfigDict, ValidationError

from gitberth.cli._app import console, err_console
from gitberth.core.binds import BindPolicy
from gitberth.core.errors import AuthError, ConfigError, GitberthError, ServerUnavailableError
from gitberth.core.manifests import LoadResult, load_manifests
from gitberth.core.review import review
from gitberth.core.review_running import RunningApp, RunningContainer, compare_running
from gitberth.core.review_secrets import ListedSecret, check_secrets
from gitberth.core.sync_status import AppList
from gitberth.render.report import (
    LiveOut,
    PlanReport,
    RevisionOut,
    RunningOut,
    build_report,
    live_out,
    render_json,
    running_out,
)
from gitberth.source import open_repo, read_revision

if TYPE_CHECKING:
    import httpx


class PlanFormat(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"


BaseOption = Annotated[
    str | None,
    typer.Option(
        "--base",
        help="review offline: the revision a pull request merges into (default: --branch tip)",
    ),
]
HeadOption = Annotated[
    str | None,
    typer.Option("--head", help="the revision under review (default: --branch tip)"),
]
FormatOption = Annotated[
    PlanFormat,
    typer.Option("--format", help="text (coloured on a terminal), markdown (a PR comment), json"),
]
ServerOption = Annotated[
    str | None,
    typer.Option("--server", help="gitberth server URL: also check the secrets head references"),
]
TokenOption = Annotated[
    str | None,
    typer.Option("--token", envvar="GITBERTH_TOKEN", help="bearer token for --server"),
]

SERVER_TIMEOUT_SECONDS = 10.0


def run_review(
    *,
    repo: Path,
    branch: str,
    base: str | None,
    head: str | None,
    apps_dir: str,
    output_format: PlanFormat,
    server: str | None,
    token: str | None,
    binds: BindPolicy | None = None,
) -> int:
    """Compare two revisions, print the report in *output_format*, return the exit code:
    0 nothing changes, 2 something does, 1 head is invalid or references unusable secrets,
    3 the server could not be asked."""
    try:
        report = build_plan_report(
            repo=repo,
            branch=branch,
            base=base,
            head=head,
            apps_dir=apps_dir,
            server=server,
            token=token,
            binds=binds,
        )
    except ServerUnavailableError as exc:
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return 3
    except GitberthError as exc:
        err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return 1
    # Each renderer loads only when asked for: a CI job's start-up is most of a review's time.
    if output_format is PlanFormat.TEXT:
        from gitberth.render.text import render_text

        render_text(report, console=console)
    elif output_format is PlanFormat.MARKDOWN:
        from gitberth.render.markdown import render_markdown

        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_json(report) + "\n")
    if output_format is not PlanFormat.TEXT:
        # The report went to stdout (a file, in CI); the job log still gets every problem.
        for app in report.apps:
            for problem in app.problems:
                err_console.print(problem.text, markup=False, soft_wrap=True)
        for finding in report.live.findings if report.live else ():
            if finding.severity == "error":
                err_console.print(f"{finding.app}: {finding.message}", markup=False, soft_wrap=True)
    return report.exitCode


def build_plan_report(
    *,
    repo: Path,
    branch: str,
    base: str | None,
    head: str | None,
    apps_dir: str,
    server: str | None,
    token: str | None,
    binds: BindPolicy | None = None,
) -> PlanReport:
    """Read both revisions from Git, review them, and ask the server when one is given."""
    repository = open_repo(repo)
    base_rev = read_revision(repository, branch=branch, rev=base, apps_dir=apps_dir)
    head_rev = read_revision(repository, branch=branch, rev=head, apps_dir=apps_dir)
    base_loaded = load_manifests(
        base_rev.files,
        apps_dir=apps_dir,
        not_utf8=base_rev.not_utf8,
        binds=binds,
        too_large=base_rev.too_large,
    )
    head_loaded = load_manifests(
        head_rev.files,
        apps_dir=apps_dir,
        not_utf8=head_rev.not_utf8,
        binds=binds,
        too_large=head_rev.too_large,
    )
    result = review(base_loaded, head_loaded)
    live = None
    if server is not None:
        changed = {app.name for app in result.apps}
        live = check_server(head_loaded, server=server, token=token, changed=changed)
    return build_report(
        result,
        base=RevisionOut(ref=base or branch, sha=base_rev.sha),
        head=RevisionOut(ref=head or branch, sha=head_rev.sha),
        live=live,
    )


class _ListedSecret(BaseModel):
    """One entry of ``GET /secrets``. Anything else a server might send is ignored, so a value
    sent by mistake is never read, let alone printed."""

    model_config = ConfigDict(extra="ignore")

    name: str
    appId: str | None = None
    keys: list[str]
    updatedAt: str | None = None


class _SecretListing(BaseModel):
    model_config = ConfigDict(extra="ignore")

    secrets: list[_ListedSecret]


RUNNING_NOTE = (
    "compared with GET /apps: container names, images, states and start times; env and command "
    "changes are in the Git review. A secret is named when it was written at least a second "
    "after a container started and its keys reach the container (rewriting the same value "
    "restarts nothing; a deleted app-scoped secret that falls back to the shared one is not seen)"
)
NO_START_TIMES = (
    "; this server lists no container start times, so restarts a changed secret will cause are "
    "not named"
)


def check_server(head: LoadResult, *, server: str, token: str | None, changed: set[str]) -> LiveOut:
    """Check head's secret references against the server's secret list, and compare head with
    what the server says runs."""
    import httpx  # only a review with --server talks HTTP; every other start skips its import

    shown = display_url(server)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(
            base_url=server, headers=headers, timeout=SERVER_TIMEOUT_SECONDS
        ) as client:
            listing = _get(client, "/secrets", shown=shown)
            apps = client.get("/apps")
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise ServerUnavailableError(
            f"cannot reach the gitberth server at {shown}: {type(exc).__name__}"
        ) from exc
    try:
        secrets = _SecretListing.model_validate_json(listing.content).secrets
    except ValidationError as exc:
        raise ServerUnavailableError(
            f"GET {shown}/secrets did not answer with a secret list"
        ) from exc
    infos = [ListedSecret(s.name, s.appId, tuple(s.keys), s.updatedAt) for s in secrets]
    running = _running(head, apps, infos, shown=shown)
    return live_out(check_secrets(head, infos), server=shown, apps=changed, running=running)


def _get(client: httpx.Client, path: str, *, shown: str) -> httpx.Response:
    response = client.get(path)
    if response.status_code in (401, 403):
        raise AuthError(
            f"the gitberth server at {shown} refused the token for GET {path} "
            f"({response.status_code}); pass --token or set GITBERTH_TOKEN",
            forbidden=response.status_code == 403,
        )
    if response.status_code == 503:
        raise ServerUnavailableError(
            f"the gitberth server at {shown} is sealed; an operator must unseal it"
        )
    if response.status_code != 200:
        raise ServerUnavailableError(
            f"GET {shown}{path} answered {response.status_code} {response.reason_phrase}"
        )
    return response


def _running(
    head: LoadResult, response: httpx.Response, secrets: list[ListedSecret], *, shown: str
) -> RunningOut:
    """Head against ``GET /apps``. The running state is extra information for a reviewer, so a
    server without it (older, API-only, or a token that may not read it) is a note, not an
    error."""
    if response.status_code == 404:
        return RunningOut(
            available=False,
            note=f"not compared: the server at {shown} has no GET /apps (it serves the API "
            "only, or is older)",
        )
    if response.status_code != 200:
        return RunningOut(
            available=False,
            note=f"not compared: GET /apps answered {response.status_code}",
        )
    try:
        listing = AppList.model_validate_json(response.content)
    except ValidationError:
        return RunningOut(available=False, note="not compared: GET /apps sent no app list")
    several = len(listing.sources) > 1  # then each app is named with its source
    running = [
        RunningApp(
            name=app.name,
            sync=app.sync,
            health=app.health,
            applied_revision=app.applied_revision,
            error=f"{app.error.code}: {app.error.message}" if app.error else None,
            containers=tuple(
                RunningContainer(c.name, c.service, c.state, c.image, c.revision, c.created_at)
                for c in app.containers
            ),
            source=app.source if several else "",
        )
        for app in listing.apps
    ]
    undated = any(c.created_at is None for app in running for c in app.containers)
    return running_out(
        compare_running(head, running, secrets=secrets),
        note=RUNNING_NOTE
        + (NO_START_TIMES if undated else "")
        + "".join(
            f". The server's engine: {note}"
            for source in listing.sources
            for note in source.left_alone
        ),
    )


def display_url(url: str) -> str:
    """*url* without credentials, query or fragment, fit for output and logs.

    Raises :class:`ConfigError` (without echoing *url*, which may hold a password) when it is
    not an http(s) URL with a host.
    """
    invalid = ConfigError("--server must be an http(s) URL such as http://127.0.0.1:8700")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when it is not a number or out of range
    except ValueError as exc:
        raise invalid from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None:
        host += f":{port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
