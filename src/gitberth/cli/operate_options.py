"""``serve``'s options for notifications, commit status and deploy history, and how they
become :class:`gitberth.operations.OperationsSettings` (imported only when ``serve`` runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from gitberth.defaults import DEFAULT_HISTORY_MAX_AGE_DAYS, DEFAULT_HISTORY_MAX_ENTRIES

COMMIT_STATUS_TOKEN_ENV = "GITBERTH_COMMIT_STATUS_TOKEN"
DEFAULT_MAX_ENTRIES = DEFAULT_HISTORY_MAX_ENTRIES
DEFAULT_MAX_AGE_DAYS = DEFAULT_HISTORY_MAX_AGE_DAYS


NotifyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        envvar="GITBERTH_NOTIFY",
        help="post a JSON event per changed or failed app to this URL (repeatable); "
        "slack+https://... posts a Slack-compatible message",
        show_default=False,
    ),
]
CommitStatusOption = Annotated[
    str | None,
    typer.Option(
        "--commit-status",
        envvar="GITBERTH_COMMIT_STATUS",
        help="post each applied commit's status to this forge: github, gitea or gitlab "
        f"(token in ${COMMIT_STATUS_TOKEN_ENV} or --commit-status-token-file)",
        show_default=False,
    ),
]
CommitStatusRepoOption = Annotated[
    str | None,
    typer.Option(
        "--commit-status-repo",
        envvar="GITBERTH_COMMIT_STATUS_REPO",
        help="OWNER/NAME on GitHub or Gitea; project id or group/project on GitLab",
        show_default=False,
    ),
]
CommitStatusUrlOption = Annotated[
    str | None,
    typer.Option(
        "--commit-status-url",
        envvar="GITBERTH_COMMIT_STATUS_URL",
        help="GitHub API root (default https://api.github.com), Gitea or GitLab server URL",
        show_default=False,
    ),
]
CommitStatusTokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--commit-status-token-file",
        envvar="GITBERTH_COMMIT_STATUS_TOKEN_FILE",
        help=f"file holding the forge token (else ${COMMIT_STATUS_TOKEN_ENV})",
        show_default=False,
    ),
]
HistoryMaxOption = Annotated[
    int,
    typer.Option(
        "--history-max",
        envvar="GITBERTH_HISTORY_MAX",
        min=1,
        help="deploy history entries kept per app",
    ),
]
HistoryDaysOption = Annotated[
    float,
    typer.Option(
        "--history-days",
        envvar="GITBERTH_HISTORY_DAYS",
        min=0.01,
        help="days deploy history is kept",
    ),
]


def operations_settings(
    *,
    notify: list[str] | None,
    commit_status: str | None,
    commit_status_repo: str | None,
    commit_status_url: str | None,
    commit_status_token_file: Path | None,
    history_max: int,
    history_days: float,
) -> Any:
    """``serve``'s options as :class:`gitberth.operations.OperationsSettings`; a
    :class:`~gitberth.core.errors.ConfigError` names a bad or missing one."""
    from gitberth.commit_status import CommitStatusSettings, Forge
    from gitberth.core.errors import ConfigError
    from gitberth.history import Retention
    from gitberth.notify import Target
    from gitberth.operations import OperationsSettings

    status = None
    if commit_status is not None:
        try:
            forge = Forge(commit_status)
        except ValueError:
            raise ConfigError("--commit-status is github, gitea or gitlab") from None
        status = CommitStatusSettings.build(
            forge=forge,
            repo=commit_status_repo,
            token=commit_status_token(commit_status_token_file),
            base_url=commit_status_url,
        )
    return OperationsSettings(
        notify=tuple(Target.parse(url) for url in notify or ()),
        commit_status=status,
        retention=Retention(max_entries=history_max, max_age_days=history_days),
    )


def commit_status_token(token_file: Path | None) -> str | None:
    """The forge token: from the file when given, else ``$GITBERTH_COMMIT_STATUS_TOKEN``."""
    if token_file is not None:
        try:
            return token_file.read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise typer.BadParameter(
                f"cannot read {token_file}: {exc.strerror}", param_hint="--commit-status-token-file"
            ) from exc
    return os.environ.get(COMMIT_STATUS_TOKEN_ENV) or None
