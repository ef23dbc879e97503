"""Commit status: show on the forge whether gitberth applied a commit, next to CI's checks.

``gitberth serve --commit-status github|gitea|gitlab --commit-status-repo OWNER/NAME`` (GitLab:
the project id or ``group/project``) posts ``pending`` when a pass starts on a commit it has
not reported yet, then ``success``, or ``failure`` naming the apps that failed, using each
forge's documented REST call:

=======  ============================================================  ========================
forge    request                                                        auth header
=======  ============================================================  ========================
GitHub   ``POST {api}/repos/{owner}/{repo}/statuses/{sha}``             ``Authorization: Bearer``
Gitea    ``POST {url}/api/v1/repos/{owner}/{repo}/statuses/{sha}``      ``Authorization: token``
GitLab   ``POST {url}/api/v4/projects/{id}/statuses/{sha}``             ``PRIVATE-TOKEN``
=======  ============================================================  ========================

GitHub's base is its API root (``https://api.github.com``, or ``https://HOST/api/v3`` for
Enterprise); Gitea's and GitLab's are the server's URL (GitLab defaults to gitlab.com).
The token comes from ``$GITBERTH_COMMIT_STATUS_TOKEN`` or ``--commit-status-token-file``, never
from the command line (where ``ps`` and shell history would show it), and is sent only in the
header. A status is posted only when it changes, so a quiet loop makes no requests; posting
runs on a background :class:`~gitberth.delivery.DeliveryWorker` and never holds up a pass.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from gitberth.core.errors import ConfigError
from gitberth.delivery import Delivery, DeliveryWorker, display_url
from gitberth.metrics import OperationsMetrics
from gitberth.observers import PassOutcome, join_names

DESCRIPTION_LIMIT = 140
"""GitHub refuses longer descriptions."""
DEFAULT_CONTEXT = "gitberth"


class Forge(StrEnum):
    GITHUB = "github"
    GITEA = "gitea"
    GITLAB = "gitlab"


class State(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"


DEFAULT_BASE_URLS = {Forge.GITHUB: "https://api.github.com", Forge.GITLAB: "https://gitlab.com"}


@dataclass(frozen=True)
class CommitStatusSettings:
    forge: Forge
    repo: str
    """``owner/name`` (GitHub, Gitea) or a project id or ``group/project`` path (GitLab)."""
    token: str
    base_url: str
    context: str = DEFAULT_CONTEXT
    target_url: str | None = None
    """A link shown with the status (e.g. the dashboard)."""

    @classmethod
    def build(
        cls,
        *,
        forge: Forge,
        repo: str | None,
        token: str | None,
        base_url: str | None = None,
        context: str = DEFAULT_CONTEXT,
        target_url: str | None = None,
    ) -> CommitStatusSettings:
        """Check the options together; a :class:`ConfigError` names what is missing."""
        if not repo:
            raise ConfigError("--commit-status needs --commit-status-repo")
        if forge is not Forge.GITLAB and (repo.count("/") != 1 or repo.startswith("/")):
            raise ConfigError(f"--commit-status-repo for {forge.value} is OWNER/NAME")
        if not token:
            raise ConfigError(
                "--commit-status needs a token: set $GITBERTH_COMMIT_STATUS_TOKEN or pass "
                "--commit-status-token-file"
            )
        base = base_url or DEFAULT_BASE_URLS.get(forge)
        if not base:
            raise ConfigError(f"--commit-status {forge.value} needs --commit-status-url")
        if not base.startswith(("http://", "https://")):
            raise ConfigError("--commit-status-url must be an http(s) URL")
        return cls(
            forge=forge,
            repo=repo,
            token=token,
            base_url=base.rstrip("/"),
            context=context,
            target_url=target_url,
        )


@dataclass(frozen=True)
class StatusRequest:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


def status_request(
    settings: CommitStatusSettings, *, sha: str, state: State, description: str
) -> StatusRequest:
    """The forge's documented request for one status (pure: no I/O)."""
    description = description[:DESCRIPTION_LIMIT]
    if settings.forge is Forge.GITLAB:
        body: dict[str, Any] = {
            "state": "failed" if state is State.FAILURE else state.value,
            "name": settings.context,
            "description": description,
        }
        if settings.target_url:
            body["target_url"] = settings.target_url
        project = quote(settings.repo, safe="")
        return StatusRequest(
            url=f"{settings.base_url}/api/v4/projects/{project}/statuses/{sha}",
            headers={"private-token": settings.token},
            body=body,
        )
    body = {"state": state.value, "context": settings.context, "description": description}
    if settings.target_url:
        body["target_url"] = settings.target_url
    owner, name = settings.repo.split("/")
    path = f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/statuses/{sha}"
    if settings.forge is Forge.GITEA:
        return StatusRequest(
            url=f"{settings.base_url}/api/v1{path}",
            headers={"authorization": f"token {settings.token}", "accept": "application/json"},
            body=body,
        )
    return StatusRequest(
        url=f"{settings.base_url}{path}",
        headers={
            "authorization": f"Bearer {settings.token}",
            "accept": "application/vnd.github+json",
            "x-github-api-version": "2022-11-28",
        },
        body=body,
    )


class CommitStatusReporter:
    """A pass observer posting each applied commit's status when it changes."""

    def __init__(
        self,
        settings: CommitStatusSettings,
        *,
        metrics: OperationsMetrics,
        worker: DeliveryWorker | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.worker = worker or DeliveryWorker(
            name=display_url(settings.base_url),
            kind="commit-status",
            on_retry=lambda: metrics.delivery_retries.labels(kind="commit-status").inc(),
        )
        self._posted: dict[str, tuple[State, str]] = {}
        self._lock = threading.Lock()

    def pass_started(self, *, revision: str) -> None:
        with self._lock:
            if revision in self._posted:
                return
        self._post(revision, State.PENDING, f"gitberth is applying {revision[:12]}")

    def pass_finished(self, outcome: PassOutcome) -> None:
        failed = outcome.result.failed_apps
        if failed:
            state, description = State.FAILURE, f"failed: {join_names(failed)}"
        else:
            state, description = State.SUCCESS, "applied: every app is in sync with this commit"
        self._post(outcome.revision, state, description)

    def _post(self, sha: str, state: State, description: str) -> None:
        with self._lock:
            if self._posted.get(sha) == (state, description):
                return
            self._posted[sha] = (state, description)
            if len(self._posted) > 1024:
                self._posted.pop(next(iter(self._posted)))
        request = status_request(self.settings, sha=sha, state=state, description=description)

        def done(ok: bool) -> None:
            outcome = "sent" if ok else "failed"
            self.metrics.commit_statuses.labels(state=state.value, outcome=outcome).inc()

        self.worker.submit(
            Delivery(
                url=request.url,
                body=request.body,
                headers=request.headers,
                on_done=done,
                description=f"{state.value} {sha[:12]}",
            )
        )

    def stop(self) -> None:
        self.worker.stop()
