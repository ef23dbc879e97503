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

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit, urlunsplit

import typer

from gitberth.cli import _app
from gitberth.core.errors import ConfigError, GitberthError, ServerUnavailableError
from gitberth.core.manifests import load_manifests
from gitberth.core.review import review
from gitberth.git_objects import read_revisions
from gitberth.render.report import PlanReport, RevisionOut, build_report, render_json

if TYPE_CHECKING:
    from gitberth.core.binds import BindPolicy


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


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the block runs.

    A review allocates hundreds of thousands of short-lived objects (YAML nodes, dicts,
    validated models) and frees them by reference counting, with no cycles to find; the
    collector still walked the whole heap, again and again, for a large share of a review's
    time. It is switched back on afterwards (tests review in-process), after freezing what
    the review left alive (the parse caches): the first allocation would otherwise start a
    collection over all of it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


@collector_paused()
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
    # Once this returns, everything is written and nothing is held open: the process may end
    # without tearing down every object the review made (see gitberth.cli.main).
    _app.exit_at_once = True
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
        _app.err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return 3
    except GitberthError as exc:
        _app.err_console.print(f"error: {exc}", markup=False, soft_wrap=True)
        return 1
    # Each renderer loads only when asked for: a CI job's start-up is most of a review's time.
    if output_format is PlanFormat.TEXT:
        from gitberth.render.text import render_text

        render_text(report, console=_app.console)
    elif output_format is PlanFormat.MARKDOWN:
        from gitberth.render.markdown import render_markdown

        sys.stdout.write(render_markdown(report))
    else:
        sys.stdout.write(render_json(report) + "\n")
    if output_format is not PlanFormat.TEXT:
        # The report went to stdout (a file, in CI); the job log still gets every problem.
        for app in report.apps:
            for problem in app.problems:
                _app.err_console.print(problem.text, markup=False, soft_wrap=True)
        for finding in report.live.findings if report.live else ():
            if finding.severity == "error":
                _app.err_console.print(
                    f"{finding.app}: {finding.message}", markup=False, soft_wrap=True
                )
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
    # Git's plumbing, not GitPython: its import alone was a tenth of a second of every review.
    base_rev, head_rev = read_revisions(repo, revs=[base, head], branch=branch, apps_dir=apps_dir)
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
        from gitberth.cli.review_server import check_server  # only --server talks HTTP

        changed = {app.name for app in result.apps}
        live = check_server(head_loaded, server=server, token=token, changed=changed)
    return build_report(
        result,
        base=RevisionOut(ref=base or branch, sha=base_rev.sha),
        head=RevisionOut(ref=head or branch, sha=head_rev.sha),
        live=live,
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
