"""Verbs for operating deploys on a running server: ``history``, ``rollback`` and ``logs``.

They talk to ``gitberth serve`` over HTTP (``--api``, ``$GITBERTH_API``) with a bearer token
(``--token``, ``$GITBERTH_TOKEN``), because a rollback is a commit the server makes and logs
come from the server's engine; the same token rules as the API apply.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.markup import escape
from rich.table import Table

from gitberth.cli._app import app, console, err_console
from gitberth.cli.options import DEFAULT_API, ApiOption, TokenOption

AppArgument = Annotated[str, typer.Argument(help="app name")]


def _headers(token: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"} if token else {}


def _fail(method: str, path: str, response: httpx.Response) -> typer.Exit:
    try:
        document = response.json()
    except ValueError:
        document = {"error": f"HTTP {response.status_code}"}
    err_console.print(
        f"{method} {path}: {response.status_code} {json.dumps(document)}", markup=False
    )
    return typer.Exit(1)


def _request(
    method: str, *, api: str, path: str, token: str | None, body: Any = None, params: Any = None
) -> Any:
    try:
        with httpx.Client(base_url=api, timeout=60.0) as client:
            response = client.request(
                method, path, headers=_headers(token), json=body, params=params
            )
    except httpx.HTTPError as exc:
        err_console.print(f"cannot reach {api}: {type(exc).__name__}", markup=False)
        raise typer.Exit(1) from exc
    if response.status_code >= 400:
        raise _fail(method, path, response)
    return response.json()


def _when(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _who(entry: dict[str, Any]) -> str:
    if entry.get("tokenId"):
        return f"token {entry['tokenId']}"
    return str(entry.get("author") or "-")


@app.command()
def history(
    app_name: AppArgument,
    api: ApiOption = DEFAULT_API,
    token: TokenOption = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="entries to show")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="print the API's JSON")] = False,
) -> None:
    """Show an app's deploy history: revision, who and why, outcome, containers, duration."""
    document = _request(
        "GET", api=api, path=f"/apps/{app_name}/history", token=token, params={"limit": limit}
    )
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    entries = document.get("entries") or []
    if not entries:
        console.print(f"no history for {escape(app_name)} yet")
        return
    table = Table("time (UTC)", "revision", "outcome", "by", "subject", "containers", "took")
    for entry in entries:
        containers = "\n".join(
            f"{a['kind']} {a['container']}: {a['reason']}"
            + ("" if a.get("outcome") == "ok" else " (failed)")
            for a in entry.get("actions") or []
        )
        outcome = str(entry.get("outcome"))
        if entry.get("error"):
            outcome += f"\n{entry['error']['code']}"
        subject = str(entry.get("subject") or "")
        if entry.get("rollbackOf"):
            subject += f"\n(restores {str(entry['rollbackOf'])[:12]})"
        table.add_row(
            escape(_when(entry.get("at"))),
            escape(str(entry.get("revision") or "")[:12]),
            escape(outcome),
            escape(_who(entry)),
            escape(subject),
            escape(containers or "-"),
            f"{float(entry.get('durationSeconds') or 0):.1f}s",
        )
    console.print(table)


@app.command()
def rollback(
    app_name: AppArgument,
    to: Annotated[str, typer.Option("--to", help="revision whose manifest to restore")],
    api: ApiOption = DEFAULT_API,
    token: TokenOption = None,
) -> None:
    """Roll an app back: commit its manifest as it was at --to; the server applies it.

    Only that app's manifest changes. Secrets are not rolled back (they are not in Git).
    """
    document = _request(
        "POST", api=api, path=f"/apps/{app_name}/rollback", token=token, body={"to": to}
    )
    restored = str(document.get("restored") or "")[:12]
    if document.get("changed"):
        console.print(
            f"committed {escape(str(document.get('revision'))[:12])}: {escape(app_name)} "
            f"as it was at {escape(restored)} ({escape(str(document.get('restoredSubject')))})"
        )
    else:
        console.print(f"{escape(app_name)} already is as it was at {escape(restored)}")
    for step in document.get("plan") or []:
        console.print(
            f"  {escape(str(step['action']))} {escape(str(step['container']))}: "
            f"{escape(str(step['reason']))}"
        )
    if document.get("planError"):
        console.print(f"  [yellow]held:[/] {escape(str(document['planError']))}")
    note = (document.get("secrets") or {}).get("note")
    if note:
        console.print(f"note: {escape(str(note))}")


@app.command()
def logs(
    app_name: AppArgument,
    api: ApiOption = DEFAULT_API,
    token: TokenOption = None,
    service: Annotated[str | None, typer.Option(help="only this service")] = None,
    tail: Annotated[int, typer.Option(min=0, max=10_000, help="lines per container")] = 100,
    since: Annotated[
        str | None, typer.Option(help="POSIX seconds, ISO 8601 time, or a duration like 10m")
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = (
        False
    ),
) -> None:
    """Print what an app's containers wrote (each line prefixed with its container)."""
    params: dict[str, Any] = {"tail": tail, "follow": follow}
    if service:
        params["service"] = service
    if since:
        params["since"] = since
    path = f"/apps/{app_name}/logs"
    if not follow:
        document = _request("GET", api=api, path=path, token=token, params=params)
        for line in document.get("lines") or []:
            typer.echo(f"{line['container']} | {line['line']}")
        return
    try:
        with (
            httpx.Client(base_url=api, timeout=httpx.Timeout(60.0, read=None)) as client,
            client.stream("GET", path, headers=_headers(token), params=params) as response,
        ):
            if response.status_code >= 400:
                response.read()
                raise _fail("GET", path, response)
            _print_events(response.iter_lines())
    except httpx.HTTPError as exc:
        err_console.print(f"log stream from {api} ended: {type(exc).__name__}", markup=False)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        return


def _print_events(lines: Any) -> None:
    event = ""
    for raw in lines:
        if raw.startswith("event: "):
            event = raw[len("event: ") :]
        elif raw.startswith("data: "):
            data = json.loads(raw[len("data: ") :])
            if event == "line":
                typer.echo(f"{data['container']} | {data['line']}")
            elif event == "end":
                err_console.print(f"-- {data.get('reason', 'end')}", markup=False)
                return
