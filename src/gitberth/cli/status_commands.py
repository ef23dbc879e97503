"""``gitberth status``: the loop's view of every app, as ``GET /apps`` shows it, in a table.

It reads the state database directly (WAL lets it read while ``serve`` writes), so it works
with no token and also after the server stopped: the last known state is what it shows.
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.table import Table

from gitberth.cli._app import app, console, err_console
from gitberth.cli.options import StateDirOption
from gitberth.core.errors import GitberthError
from gitberth.core.sync_status import AppStanding, ErrorClass, SourceStanding, SyncState
from gitberth.database import open_database
from gitberth.state import StateDir
from gitberth.status import StatusStore

_SYNC_STYLE = {
    SyncState.SYNCED: "green",
    SyncState.OUT_OF_SYNC: "yellow",
    SyncState.PROGRESSING: "cyan",
    SyncState.DEGRADED: "magenta",
    SyncState.ERROR: "red",
}


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _loop_lines(state: SourceStanding) -> list[str]:
    named = f"{escape(state.name)}: " if state.name else ""
    lines = [
        f"source {named}{escape(state.source or '?')} ({escape(state.branch or '?')}) at "
        f"{escape((state.revision or 'no revision yet')[:12])}; last pass "
        f"{_when(state.last_pass_at)}"
    ]
    if state.source_error:
        lines.append(
            f"[yellow]source:[/] {escape(state.source_error)} (keeping the last good revision)"
        )
    if not state.docker_reachable:
        lines.append(f"[red]docker unreachable:[/] {escape(state.docker_error or '')}")
    lines.extend(f"[dim]{escape(note)}[/]" for note in state.left_alone)
    if state.next_retry_in is not None:
        lines.append(f"next retry in {state.next_retry_in:g}s")
    return lines


def _row(state: AppStanding) -> tuple[str, ...]:
    style = _SYNC_STYLE[state.sync]
    containers = "\n".join(
        escape(
            f"{c.name} {c.state}"
            + (f" ({c.health})" if c.health else "")
            + (f" {c.url}" if c.url else "")
        )
        for c in state.containers
    )
    error = ""
    if state.error is not None:
        colour = "red" if state.error.kind is ErrorClass.STALLED else "yellow"
        # The message can hold a health check's output: text the container wrote, never markup.
        error = f"[{colour}]{state.error.kind.value}[/] {escape(state.error.message)}"
    return (
        escape(state.name),
        escape(state.source or "-"),
        f"[{style}]{state.sync.value}[/]",
        state.health.value,
        escape((state.desired_revision or "-")[:12]),
        escape((state.applied_revision or "-")[:12]),
        containers or "-",
        error,
    )


@app.command()
def status(
    state_dir: StateDirOption = None,
) -> None:
    """Show every app's source, sync state, health, containers and last error, as the loops of
    every source saw them.

    Exit 0 when every app is Synced, 1 otherwise.
    """
    try:
        db = open_database(StateDir.resolve(state_dir))
        try:
            sources = StatusStore.every_source(db)
        finally:
            db.close()
    except GitberthError as exc:
        err_console.print(f"gitberth status: {exc}", markup=False)
        raise typer.Exit(2) from exc
    for loop_state, _ in sources:
        for line in _loop_lines(loop_state):
            console.print(line)
    apps = sorted((a for _, listed in sources for a in listed), key=lambda a: (a.name, a.source))
    table = Table(
        "app", "source", "sync", "health", "desired", "applied", "containers", "last error"
    )
    for state in apps:
        table.add_row(*_row(state))
    console.print(table if apps else "no apps")
    if any(state.sync is not SyncState.SYNCED for state in apps):
        raise typer.Exit(1)
