"""The master key's verbs: ``init`` splits it into Shamir shares; ``seal``, ``unseal``,
``rekey`` and ``seal-status`` are clients of a running server.

``init`` works on the state dir directly (it must work before any server exists); the others go
through the API because the key lives in the server's memory, not on disk.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from gitberth.cli._app import app, console, err_console
from gitberth.cli.options import StateDirOption
from gitberth.core.errors import GitberthError
from gitberth.database import open_database
from gitberth.state import StateDir

if TYPE_CHECKING:
    pass

from gitberth.cli.options import DEFAULT_API, ApiOption, TokenOption


@app.command()
def init(
    shares: Annotated[int, typer.Option(min=1, max=255, help="number of key shares to print")],
    threshold: Annotated[int, typer.Option(min=1, max=255, help="shares needed to unseal")],
    state_dir: StateDirOption = None,
) -> None:
    """Create a master key split into Shamir shares; the server then starts sealed.

    The shares are printed once and stored nowhere: hand one to each operator.
    """
    from gitberth.secrets.seal import initialize_shamir
    from gitberth.secrets.store import SecretStore

    state = StateDir.resolve(state_dir)
    try:
        db = open_database(state)
        try:
            parts = initialize_shamir(
                SecretStore(db), state=state, shares=shares, threshold=threshold
            )
        finally:
            db.close()
    except GitberthError as exc:
        err_console.print(f"gitberth init: {exc}", markup=False)
        raise typer.Exit(1) from exc
    console.print(
        f"Initialized {state.path}: master key split into {shares} share(s), "
        f"any {threshold} of which unseal it. They are shown only now and stored nowhere.",
        markup=False,
    )
    for part in parts:
        console.print(f"share {part.index}: {part.encode()}", markup=False)
    console.print(
        "Start the server, then unseal with `gitberth unseal` (once per share) or "
        'POST /admin/unseal {"key": "<share>"}.',
        markup=False,
    )


def _call(*, method: str, api: str, path: str, token: str | None, body: Any = None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(base_url=api, timeout=30.0) as client:
            response = client.request(method, path, headers=headers, json=body)
    except httpx.HTTPError as exc:
        err_console.print(f"cannot reach {api}: {type(exc).__name__}", markup=False)
        raise typer.Exit(1) from exc
    try:
        document = response.json()
    except ValueError:
        document = {"error": f"HTTP {response.status_code}"}
    if response.status_code >= 400:
        err_console.print(
            f"{method} {path}: {response.status_code} {json.dumps(document)}", markup=False
        )
        raise typer.Exit(1)
    return document


def _print_status(status: dict[str, Any]) -> None:
    if not status.get("sealed"):
        console.print("unsealed")
    elif not status.get("initialized"):
        console.print("sealed (not initialized)")
    else:
        console.print(
            f"sealed (progress {status.get('progress')}/{status.get('threshold')} shares)",
            markup=False,
        )


@app.command()
def seal(api: ApiOption = DEFAULT_API, token: TokenOption = None) -> None:
    """Seal a running server: its master key is dropped from memory until unsealed."""
    _print_status(_call(method="POST", api=api, path="/admin/seal", token=token))


@app.command()
def unseal(
    api: ApiOption = DEFAULT_API,
    token: TokenOption = None,
    key: Annotated[
        str | None,
        typer.Option(help="master key or one share; omit to be prompted, '-' to read stdin"),
    ] = None,
) -> None:
    """Offer the master key or one share to a running server (repeat up to the threshold)."""
    if key is None and sys.stdin.isatty():
        key = typer.prompt("Master key or one share", hide_input=True)
    elif key is None or key == "-":
        key = sys.stdin.readline()
    _print_status(
        _call(method="POST", api=api, path="/admin/unseal", token=token, body={"key": key.strip()})
    )


@app.command()
def rekey(
    api: ApiOption = DEFAULT_API,
    token: TokenOption = None,
    mode: Annotated[
        str | None,
        typer.Option(help="auto (a new master.key) or shamir (new shares); default: unchanged"),
    ] = None,
    shares: Annotated[int | None, typer.Option(min=1, max=255, help="shamir: shares")] = None,
    threshold: Annotated[
        int | None, typer.Option(min=1, max=255, help="shamir: shares needed to unseal")
    ] = None,
) -> None:
    """Replace the master key of a running, unsealed server; the old key or shares are useless
    afterwards. New shares are printed once and stored nowhere."""
    body: dict[str, Any] = {}
    if mode is not None:
        body["mode"] = mode
    if shares is not None:
        body["shares"] = shares
    if threshold is not None:
        body["threshold"] = threshold
    result = _call(method="POST", api=api, path="/admin/rekey", token=token, body=body)
    if result.get("mode") == "shamir":
        console.print(
            f"Rekeyed: a new master key split into {result.get('shares')} share(s), any "
            f"{result.get('threshold')} of which unseal it. The old shares are useless now; "
            "these are shown only now and stored nowhere.",
            markup=False,
        )
        for index, share in enumerate(result.get("newShares") or [], start=1):
            console.print(f"share {index}: {share}", markup=False)
    else:
        console.print(
            "Rekeyed: the server wrote a new master.key in its state dir; the old key is "
            "useless now.",
            markup=False,
        )


@app.command("seal-status")
def seal_status(api: ApiOption = DEFAULT_API) -> None:
    """Show whether a running server is sealed and how many shares it has received."""
    _print_status(_call(method="GET", api=api, path="/admin/seal-status", token=None))
