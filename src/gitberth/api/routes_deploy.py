"""``POST /deploy``: the guide's deploy call, which ends as a commit in Git and a running app.

The body is an app manifest (single- or multi-service), exactly what ``apps/<name>.yaml``
holds. Order of checks: token (401/403), seal (503), body (400 with every manifest problem),
the token's scope (403: another app, or a shared secret not granted to an app-scoped token),
secrets (400 ``unknown_secret`` with ``missing``), container names another app already owns
(409 ``container_name_conflict``), and only then the commit and the apply. Each deploy that
passes the checks is in the audit log (token, app, revision, outcome; never a value).
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from gitberth.api.auth import Context, Unsealed
from gitberth.api.json_body import openapi_body, read_json_document
from gitberth.core.errors import DeployError, GitberthError
from gitberth.core.models import AppManifest
from gitberth.deploy import Deployer
from gitberth.gitwrite import Author
from gitberth.reconciler import AppStatus
from gitberth.source_set import DeployRouter

router = APIRouter(tags=["deploy"])


def _deployer(request: Request) -> Deployer | DeployRouter:
    """The server's deployer (across its sources: the one of the source that declares the
    app, see :class:`~gitberth.source_set.DeployRouter`)."""
    deployer = getattr(request.app.state, "deployer", None)
    if isinstance(deployer, DeployError):
        raise deployer
    if deployer is None:
        raise DeployError("this server follows no Git repository (start it with --repo)")
    assert isinstance(deployer, Deployer | DeployRouter)
    return deployer


@router.post(
    "/deploy",
    status_code=202,
    responses={
        202: {"description": "committed to Git and applied: {app, revision, plan}"},
        400: {
            "description": "invalid manifest (`problems`), `unknown_secret` (`missing`), or "
            "`invalid_request`: a new app and several sources of which none is the default"
        },
        401: {"description": "missing or unknown bearer token"},
        403: {"description": "an app-scoped token deploying another app or ungranted secrets"},
        409: {
            "description": "`read_only_repo` (open a pull request instead), or "
            "`container_name_conflict` (another app owns those container names), or "
            "`app_name_clash` (two sources declare the app)"
        },
        503: {"description": 'the store is sealed: `{"error": "sealed"}`'},
    },
    openapi_extra=openapi_body(AppManifest),
)
async def deploy(request: Request, principal: Unsealed, context: Context) -> JSONResponse:
    """Validate, check secrets, commit ``apps/<name>.yaml`` on the tracked branch of the source
    that declares the app (or the default source, for a new app), and apply it."""
    deployer = _deployer(request)
    document = await read_json_document(request)
    manifest = deployer.validate(document)
    principal.require_app(manifest.name)
    if principal.is_confined:
        scoped = {info.name for info in context.store.list(app_id=manifest.name)}
        principal.require_shared_secrets(
            [name for name in manifest.secret_names() if name not in scoped]
        )
    try:
        outcome = await _run_in_thread(deployer, manifest, principal.token_id)
    except GitberthError as exc:
        await context.audit.record_async(
            token_id=principal.token_id, action="deploy", outcome=exc.code, name=manifest.name
        )
        raise
    await context.audit.record_async(
        token_id=principal.token_id,
        action="deploy",
        name=manifest.name,
        detail={"revision": outcome.revision},
    )
    report = outcome.result.apps.get(manifest.name)
    body: dict[str, Any] = {
        "app": outcome.app,
        "source": outcome.source,
        "revision": outcome.revision,
        "plan": [
            {"action": a.kind.value, "container": a.container_name, "reason": a.reason}
            for a in outcome.result.plan.for_app(manifest.name)
        ],
        "sources": outcome.sources,
        "status": report.status.value if report else AppStatus.UNCHANGED.value,
        "urls": [c.url for c in report.containers if c.url] if report else [],
    }
    if report is not None and report.status.is_error:
        body["error"] = report.code
        body["message"] = report.message
    return JSONResponse(body, status_code=202)


async def _run_in_thread(
    deployer: Deployer | DeployRouter, manifest: AppManifest, token_id: str
) -> Any:
    """Git and Docker calls block: run the deploy off the event loop."""
    author = Author(name=f"gitberth token {token_id}", email=f"{token_id}@gitberth.invalid")
    return await anyio.to_thread.run_sync(lambda: deployer.deploy(manifest, author=author))
