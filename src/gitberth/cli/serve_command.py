"""``serve``: start the API server and the reconcile loop, from its options or a config file.

Everything ``serve`` reads before it starts lives here: how its options and ``--config`` /
``--source`` become one :class:`~gitberth.serve_config.ServeConfig`, the listen address and the
plaintext warning, and the log format. The server itself is built in :mod:`gitberth.server`.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gitberth.cli import operate_options as operate
from gitberth.cli._app import app, err_console
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
from gitberth.core.errors import ConfigError, GitberthError
from gitberth.defaults import (
    DEFAULT_APPS_DIR,
    DEFAULT_BRANCH,
    DEFAULT_GRACE_SECONDS,
    DEFAULT_HOST,
    DEFAULT_INTERVAL,
    DEFAULT_PORT,
    DEFAULT_PUBLISH_ADDRESS,
    DEFAULT_ROLLOUT_TIMEOUT,
    DEFAULT_SECRETS_ROOT,
    DEFAULT_WORKERS,
)
from gitberth.runtime.choice import RuntimeKind
from gitberth.state import StateDir

if TYPE_CHECKING:
    from gitberth.serve_config import ServeConfig


logger = logging.getLogger("gitberth.serve")


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):  # structured context a logger passed as extra={"fields"}
            document.update({k: v for k, v in fields.items() if k not in document})
        return json.dumps(document, default=str)


def configure_logging(log_format: LogFormat) -> None:
    """Send gitberth's and uvicorn's logs to stderr as text lines or one JSON object per line."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8700`` for IPv6) into its parts."""
    host, sep, port_text = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise typer.BadParameter("use HOST:PORT, e.g. 127.0.0.1:8700", param_hint="--listen")
    return host, int(port_text)


def plaintext_warning(host: str) -> str | None:
    """A warning when the API would listen beyond this machine: it speaks plain HTTP."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to anything
    return (
        f"--listen {host}: the API is reachable beyond this machine over plain HTTP (no TLS); "
        "bearer tokens and secret values would cross the network readable. Put a TLS-"
        "terminating proxy in front and listen on 127.0.0.1."
    )


@app.command()
def serve(
    repo: Annotated[
        str | None,
        typer.Option(
            envvar="GITBERTH_REPO",
            help="Git repo (path or URL) of app manifests, for the reconcile loop",
        ),
    ] = None,
    state_dir: StateDirOption = None,
    listen: Annotated[
        str, typer.Option(envvar="GITBERTH_LISTEN", help="HOST:PORT to serve the API on")
    ] = f"{DEFAULT_HOST}:{DEFAULT_PORT}",
    log_format: Annotated[
        LogFormat, typer.Option(envvar="GITBERTH_LOG_FORMAT", help="log lines as text or JSON")
    ] = LogFormat.TEXT,
    branch: BranchOption = DEFAULT_BRANCH,
    apps_dir: AppsDirOption = DEFAULT_APPS_DIR,
    secrets_dir: SecretsDirOption = DEFAULT_SECRETS_ROOT,
    grace: GraceOption = DEFAULT_GRACE_SECONDS,
    interval: Annotated[
        float,
        typer.Option(
            envvar="GITBERTH_INTERVAL",
            help="seconds between fetches of a remote --repo and full resyncs",
        ),
    ] = DEFAULT_INTERVAL,
    rollout_timeout: Annotated[
        float,
        typer.Option(
            envvar="GITBERTH_ROLLOUT_TIMEOUT", help="seconds a new container has to become healthy"
        ),
    ] = DEFAULT_ROLLOUT_TIMEOUT,
    workers: Annotated[
        int, typer.Option(min=1, envvar="GITBERTH_WORKERS", help="apps rolled out in parallel")
    ] = DEFAULT_WORKERS,
    publish_address: PublishAddressOption = DEFAULT_PUBLISH_ADDRESS,
    allow_bind_under: AllowBindOption = None,
    runtime: RuntimeOption = RuntimeKind.AUTO,
    webhook_secret: Annotated[
        str | None,
        typer.Option(
            envvar="GITBERTH_WEBHOOK_SECRET",
            help="secret that signs POST /hooks/git (GitHub, Gitea, GitLab); unset: 401",
            show_default=False,
        ),
    ] = None,
    notify: operate.NotifyOption = None,
    commit_status: operate.CommitStatusOption = None,
    commit_status_repo: operate.CommitStatusRepoOption = None,
    commit_status_url: operate.CommitStatusUrlOption = None,
    commit_status_token_file: operate.CommitStatusTokenFileOption = None,
    history_max: operate.HistoryMaxOption = operate.DEFAULT_MAX_ENTRIES,
    history_days: operate.HistoryDaysOption = operate.DEFAULT_MAX_AGE_DAYS,
    repo_credentials: Annotated[
        str | None,
        typer.Option(
            envvar="GITBERTH_REPO_CREDENTIALS",
            help="gitberth secret (shared) with the remote's credentials: USERNAME and PASSWORD "
            "(or TOKEN) for https, SSH_PRIVATE_KEY and KNOWN_HOSTS (and SSH_PASSPHRASE) for ssh",
            show_default=False,
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="GITBERTH_CONFIG",
            help="gitberth.yaml listing several Git sources (see the README); not with --repo",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            envvar="GITBERTH_SOURCE",
            help="a Git source NAME=URL[#BRANCH][:DIR], repeatable (the variable: separated by "
            "spaces); not with --repo or --config",
            show_default=False,
        ),
    ] = None,
    default_source: Annotated[
        str | None,
        typer.Option(
            envvar="GITBERTH_DEFAULT_SOURCE",
            help="with --source: the source POST /deploy commits a new app to",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API and run the reconcile loop on --repo (watch, fetch, self-heal)."""
    # FastAPI, uvicorn, the engine SDK and crypto load only here, so other verbs start fast.
    import uvicorn

    from gitberth.server import ServerSettings, ServeSettings, build_app, open_context

    host, port = parse_listen(listen)
    configure_logging(log_format)
    state = StateDir.resolve(state_dir)
    try:
        sources = serve_sources(
            repo=repo, config=config, source=source or [], default_source=default_source
        )
        operations = operate.operations_settings(
            notify=notify,
            commit_status=commit_status,
            commit_status_repo=commit_status_repo,
            commit_status_url=commit_status_url,
            commit_status_token_file=commit_status_token_file,
            history_max=history_max,
            history_days=history_days,
        )
    except GitberthError as exc:
        err_console.print(f"gitberth serve: {exc}", markup=False)
        raise typer.Exit(2) from exc
    try:
        context = open_context(
            ServerSettings(state_dir=state.path, repo=repo, host=host, port=port)
        )
    except GitberthError as exc:
        err_console.print(f"gitberth serve: {exc}", markup=False)
        raise typer.Exit(2) from exc
    if repo is None and sources is None:
        logger.info("no --repo: only the secrets API is served, nothing is reconciled")
    logger.info("state dir %s; %s", state.path, context.startup_message)
    logger.info("API on http://%s:%d (OpenAPI at /openapi.json)", host, port)
    warning = plaintext_warning(host)
    if warning is not None:
        logger.warning(warning)
    try:
        api = build_app(
            context,
            ServeSettings(
                repo=repo,
                branch=branch,
                apps_dir=apps_dir,
                sources=tuple(sources.sources) if sources else (),
                default_source=_default_name(sources),
                secrets_dir=secrets_dir,
                grace_seconds=grace,
                interval=interval,
                rollout_timeout=rollout_timeout,
                workers=workers,
                webhook_secret=webhook_secret,
                operations=operations,
                repo_credentials=repo_credentials,
                publish_address=publish_address,
                reserved_host_ports=frozenset({port}),
                allow_bind_under=tuple(allow_bind_under or ()),
                runtime=runtime,
            ),
        )
    except GitberthError as exc:
        err_console.print(f"gitberth serve: {exc}", markup=False)
        context.close()
        raise typer.Exit(2) from exc
    share_the_gil_promptly()
    server_config = uvicorn.Config(api, host=host, port=port, log_config=None, access_log=True)
    uvicorn.Server(server_config).run()


SERVE_SWITCH_INTERVAL = 0.0005
"""Seconds a thread may keep the GIL while another waits for it, in ``serve`` (Python's
default is 0.005)."""


def share_the_gil_promptly() -> None:
    """Let a thread that waits for the GIL get it within half a millisecond, not five.

    A secret write crosses two threads: the event loop parses and encrypts, the group-commit
    thread runs the SQL and the fsync. Each SQLite call releases the GIL and must take it
    back; while the loop is busy with the next requests, the committer waited up to the
    switch interval for each of its statements (and the loop for each of its reads), which
    made the slowest writes wait for several intervals in a row.
    """
    sys.setswitchinterval(SERVE_SWITCH_INTERVAL)


def serve_sources(
    *, repo: str | None, config: Path | None, source: list[str], default_source: str | None
) -> ServeConfig | None:
    """The sources of ``--config`` or ``--source`` (None: ``--repo`` or nothing)."""
    from pydantic import ValidationError

    from gitberth.serve_config import ServeConfig, load_config, parse_source_option

    given = [name for name, value in (("--repo", repo), ("--config", config)) if value]
    if source:
        given.append("--source")
    if len(given) > 1:
        raise ConfigError(f"{' and '.join(given)} cannot be combined: name the sources once")
    if config is not None:
        loaded = load_config(config)
        if default_source is not None:
            raise ConfigError("--default-source is for --source; in the config say 'default: true'")
        return loaded
    if not source:
        if default_source is not None:
            raise ConfigError("--default-source needs --source")
        return None
    configs = [parse_source_option(text) for text in source]
    if default_source is not None:
        if default_source not in {c.name for c in configs}:
            raise ConfigError(f"--default-source {default_source}: no --source has that name")
        configs = [c.model_copy(update={"default": c.name == default_source}) for c in configs]
    try:
        return ServeConfig(sources=configs)
    except ValidationError as exc:
        raise ConfigError(
            "--source: "
            + "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        ) from exc


def _default_name(sources: ServeConfig | None) -> str | None:
    default = sources.default_source() if sources is not None else None
    return default.name if default is not None else None
