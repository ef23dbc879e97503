"""``gitberth plan --base --head --server URL``: the half of a review that asks a running
gitberth (``GET /secrets``, ``GET /apps``).

Apart from :mod:`gitberth.cli.review_commands` so that an offline review, a CI job's whole
process, never imports the HTTP client, the server's status models or these checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationError

from gitberth.cli.review_commands import SERVER_TIMEOUT_SECONDS, display_url
from gitberth.core.errors import AuthError, ServerUnavailableError
from gitberth.core.manifests import LoadResult
from gitberth.core.review_running import RunningApp, RunningContainer, compare_running
from gitberth.core.review_secrets import ListedSecret, check_secrets
from gitberth.core.sync_status import AppList
from gitberth.render.report import LiveOut, RunningOut, live_out, running_out

if TYPE_CHECKING:
    import httpx


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
