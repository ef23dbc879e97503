"""Verbs that reconcile a Git repository against the engine: ``apply`` and ``plan``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gitberth.cli import _app, review_commands
from gitberth.cli._app import app
from gitberth.cli.options import (
    AllowBindOption,
    AppsDirOption,
    BranchOption,
    GraceOption,
    PublishAddressOption,
    RuntimeOption,
    SecretsDirOption,
    StateDirOption,
)
from gitberth.core.errors import GitberthError, RuntimeUnavailableError
from gitberth.core.plan import ActionKind
from gitberth.defaults import (
    DEFAULT_APPS_DIR,
    DEFAULT_BRANCH,
    DEFAULT_GRACE_SECONDS,
    DEFAULT_PUBLISH_ADDRESS,
    DEFAULT_SECRETS_ROOT,
)
from gitberth.host_paths import bind_policy
from gitberth.runtime.choice import RuntimeKind

if TYPE_CHECKING:
    from gitberth.reconciler import ActionEvent, ReconcileResult, SecretSource
    from gitberth.spec_ledger import SpecLedger

RepoOption = Annotated[Path, typer.Option("--repo", help="path of the Git repository")]
RevOption = Annotated[
    str | None, typer.Option("--rev", help="apply this commit instead of the branch tip")
]


def escape(text: str) -> str:
    """*text* with Rich markup escaped (Rich loads only for the verbs that print through it)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


_STYLE = {
    ActionKind.CREATE: "green",
    ActionKind.REPLACE: "yellow",
    ActionKind.REMOVE: "red",
    ActionKind.KEEP: "dim",
}


def _print_event(event: ActionEvent) -> None:
    from gitberth.reconciler import EventKind

    action = event.action
    style = _STYLE[action.kind]
    if event.kind is EventKind.STARTED:
        _app.console.print(
            f"  [{style}]{action.kind.value:<7}[/] {escape(action.container_name)}: "
            f"{escape(action.reason)}",
            highlight=False,
        )
    elif event.kind is EventKind.FAILED:
        _app.console.print(
            f"  [red]failed[/]  {escape(action.container_name)}: {escape(event.error or '')}",
            highlight=False,
        )
    elif event.container is not None and event.container.url:
        _app.console.print(
            f"  [green]running[/] {escape(event.container.name)} at {escape(event.container.url)}",
            highlight=False,
        )


def open_state(state_dir: Path | None) -> tuple[SecretSource, SpecLedger | None]:
    """The secret store of the state dir (unsealed with its key file when it has one) and its
    spec ledger; without a state database, a stand-in that holds secret-consuming apps."""
    # The engine, crypto and database libraries load only for commands that use them, so the
    # offline verbs (plan --base/--head, validate, schema) start fast.
    from gitberth.database import open_database
    from gitberth.reconciler import NoSecretStore
    from gitberth.secrets.seal import open_default_setup
    from gitberth.secrets.store import SecretStore
    from gitberth.spec_ledger import SpecLedger
    from gitberth.state import StateDir

    state = StateDir.resolve(state_dir)
    if not state.db_path.exists():
        return NoSecretStore(), None
    db = open_database(state)
    store = SecretStore(db)
    open_default_setup(store, state=state)
    return store, SpecLedger(db)


def _run(
    *,
    repo: Path,
    branch: str,
    rev: str | None,
    apps_dir: str,
    grace: int,
    dry_run: bool,
    state_dir: Path | None,
    secrets_dir: Path = DEFAULT_SECRETS_ROOT,
    publish_address: str = DEFAULT_PUBLISH_ADDRESS,
    allow_bind_under: list[Path] | None = None,
    runtime_kind: RuntimeKind = RuntimeKind.AUTO,
) -> ReconcileResult:
    # GitPython loads only here: the offline review (plan --base/--head) reads Git without it.
    from gitberth.git_source import read_settings
    from gitberth.reconciler import history_from_repo, reconcile_once
    from gitberth.source import open_repo, read_revision
    from gitberth.source_id import source_id

    try:
        git_repo = open_repo(repo)
        revision = read_revision(git_repo, branch=branch, rev=rev, apps_dir=apps_dir)
        _app.console.print(
            f"revision [bold]{revision.short}[/] ({escape(rev or branch)}) of {escape(str(repo))}",
            highlight=False,
        )
        secrets, ledger = open_state(state_dir)
        from gitberth.core.container_options import PublishPolicy
        from gitberth.runtime.base import bind_policy_of
        from gitberth.runtime.secret_files import SecretFilesRoot
        from gitberth.runtime.select import build_runtime

        runtime = build_runtime(
            source=source_id(str(repo), branch=branch, apps_dir=apps_dir),
            grace_seconds=grace,
            secret_files=SecretFilesRoot(secrets_dir),
            publish_address=publish_address,
            bind_policy=bind_policy(allow_bind_under),
            kind=runtime_kind,
        )
        publish = PublishPolicy(default_address=publish_address)
        return reconcile_once(
            publish=publish,
            revision=revision,
            runtime=runtime,
            secrets=secrets,
            dry_run=dry_run,
            listener=None if dry_run else _print_event,
            history=history_from_repo(
                git_repo,
                apps_dir=apps_dir,
                secrets=secrets,
                publish=publish,
                binds=bind_policy_of(runtime),
            ),
            known_specs=ledger,
            allow_empty=read_settings(git_repo, sha=revision.sha).allow_empty,
        )
    except RuntimeUnavailableError as exc:
        _app.err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(3) from None
    except GitberthError as exc:
        _app.err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None


def _print_summary(result: ReconcileResult, *, dry_run: bool) -> None:
    from gitberth.reconciler import AppStatus

    if dry_run:
        for action in result.plan.actions:
            if action.changes_something and result.apps[action.app].status is AppStatus.PLANNED:
                style = _STYLE[action.kind]
                _app.console.print(
                    f"  [{style}]{action.kind.value:<7}[/] {escape(action.container_name)}: "
                    f"{escape(action.reason)}",
                    highlight=False,
                )
    counts: dict[str, int] = {}
    for name in sorted(result.apps):
        report = result.apps[name]
        counts[report.status.value] = counts.get(report.status.value, 0) + 1
        if report.status.is_error:
            _app.err_console.print(f"[red]{report.status.value}[/] app {escape(name)}:", end=" ")
            _app.err_console.print(report.message, markup=False, highlight=False)
        elif report.status in (AppStatus.APPLIED, AppStatus.UNCHANGED) and not dry_run:
            urls = [c.url for c in report.containers if c.url]
            if urls:
                _app.console.print(f"  app {name}: " + ", ".join(urls), markup=False)
    for note in result.left_alone:
        _app.console.print(note, markup=False, highlight=False)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no apps"
    _app.console.print(
        f"{'plan' if dry_run else 'apply'}: {summary} in {result.duration_seconds:.2f}s"
    )


@app.command()
def apply(
    repo: RepoOption,
    branch: BranchOption = DEFAULT_BRANCH,
    rev: RevOption = None,
    apps_dir: AppsDirOption = DEFAULT_APPS_DIR,
    grace: GraceOption = DEFAULT_GRACE_SECONDS,
    state_dir: StateDirOption = None,
    secrets_dir: SecretsDirOption = DEFAULT_SECRETS_ROOT,
    publish_address: PublishAddressOption = DEFAULT_PUBLISH_ADDRESS,
    allow_bind_under: AllowBindOption = None,
    runtime: RuntimeOption = RuntimeKind.AUTO,
) -> None:
    """Reconcile once: make the engine run what the branch (or --rev) says.

    Exit 0 when every app is applied; 1 when any app was invalid, blocked or failed (every other
    app is still applied); 3 when Docker is unreachable.
    """
    result = _run(
        repo=repo,
        branch=branch,
        rev=rev,
        apps_dir=apps_dir,
        grace=grace,
        dry_run=False,
        state_dir=state_dir,
        secrets_dir=secrets_dir,
        publish_address=publish_address,
        allow_bind_under=allow_bind_under,
        runtime_kind=runtime,
    )
    _print_summary(result, dry_run=False)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def plan(
    repo: RepoOption,
    branch: BranchOption = DEFAULT_BRANCH,
    rev: RevOption = None,
    apps_dir: AppsDirOption = DEFAULT_APPS_DIR,
    base: review_commands.BaseOption = None,
    head: review_commands.HeadOption = None,
    output_format: review_commands.FormatOption = review_commands.PlanFormat.TEXT,
    server: review_commands.ServerOption = None,
    token: review_commands.TokenOption = None,
    state_dir: StateDirOption = None,
    publish_address: PublishAddressOption = DEFAULT_PUBLISH_ADDRESS,
    allow_bind_under: AllowBindOption = None,
    runtime: RuntimeOption = RuntimeKind.AUTO,
) -> None:
    """Dry run against the live containers: what `apply` would do, changing nothing.

    With --base and/or --head it is an offline review of the change between two revisions
    (no Docker needed): exit 0 when nothing changes, 2 when something does, 1 when a head
    manifest is invalid or (with --server) references a missing or unusable secret.
    """
    if base is not None or head is not None:
        if rev is not None:
            _app.err_console.print(
                "error: --rev is for the live dry run; review with --head instead"
            )
            raise typer.Exit(1)
        raise typer.Exit(
            review_commands.run_review(
                repo=repo,
                branch=branch,
                base=base,
                head=head,
                apps_dir=apps_dir,
                output_format=output_format,
                server=server,
                token=token,
                binds=bind_policy(allow_bind_under),
            )
        )
    if server is not None or output_format is not review_commands.PlanFormat.TEXT:
        _app.err_console.print("error: --server and --format need --base and/or --head")
        raise typer.Exit(1)
    result = _run(
        repo=repo,
        branch=branch,
        rev=rev,
        apps_dir=apps_dir,
        grace=DEFAULT_GRACE_SECONDS,
        dry_run=True,
        state_dir=state_dir,
        publish_address=publish_address,
        allow_bind_under=allow_bind_under,
        runtime_kind=runtime,
    )
    _print_summary(result, dry_run=True)
    if not result.ok:
        raise typer.Exit(1)
