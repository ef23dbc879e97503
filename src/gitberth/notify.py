"""Notifications: tell people when a pass changed an app or failed it.

``gitberth serve --notify URL`` (repeatable, any number of targets) posts one event per app
whose pass changed something or failed: the revision with its author and subject, the actions
with their reasons, the outcome, and the error. The event is :class:`DeployNotification`;
``schemas/notification.schema.json`` is generated from it (``gitberth schema notification``).

Two formats, chosen per target by the URL's scheme, so one option covers both:

* ``https://...`` (or ``json+https://...``): the event as JSON;
* ``slack+https://...``: a Slack incoming-webhook body (``{"text": ...}``), which Mattermost,
  Rocket.Chat and Discord's ``/slack`` endpoints accept too. The ``slack+`` is dropped from the
  URL that is posted to.

Posting happens on a :class:`~gitberth.delivery.DeliveryWorker` per target (retried with
backoff, never blocking or failing a pass). An app that fails the same way pass after pass (a
held manifest, a rollout in backoff, a missing secret) is notified once, until its outcome
changes. Events carry what the reconciler reports, which never holds a secret value.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gitberth.core.errors import ConfigError
from gitberth.core.sync_status import iso_second
from gitberth.delivery import Delivery, DeliveryWorker, display_url
from gitberth.history import UNKNOWN_COMMIT, CommitInfo
from gitberth.metrics import OperationsMetrics
from gitberth.observers import PassOutcome
from gitberth.reconciler import AppReport, AppStatus

logger = logging.getLogger("gitberth.notify")

SCHEMA_ID = "https://gitberth.dev/schemas/notification.schema.json"
SLACK_TEXT_LIMIT = 3000


class NotificationAction(BaseModel):
    """One container action of the pass."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="create, replace or remove")
    container: str
    reason: str
    outcome: str = Field(description="ok or failed")
    error: str | None = None


class NotificationError(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(description="e.g. rollout_failed, invalid_manifest, unknown_secret")
    message: str


class DeployNotification(BaseModel):
    """What ``--notify`` posts for each app whose pass changed something or failed."""

    model_config = ConfigDict(extra="forbid", title="gitberth deploy notification")
    version: Literal[1] = 1
    event: Literal["deploy"] = "deploy"
    app: str
    outcome: Literal["applied", "removed", "failed", "invalid", "blocked"]
    revision: str = Field(description="the Git commit the pass applied")
    author: str = Field(description="the commit's author (an API token for API deploys)")
    subject: str = Field(description="the commit's subject line")
    tokenId: str | None = Field(description="the API token id that deployed, if any")
    rollbackOf: str | None = Field(description="the revision a rollback commit restores")
    actions: list[NotificationAction]
    error: NotificationError | None
    source: str = Field(description="the repository gitberth follows (no credentials)")
    branch: str
    time: str = Field(description="when the pass started, ISO 8601 UTC")
    trigger: str = Field(description="what woke the pass: commit, deploy, docker, secret ...")


def notification_schema() -> dict[str, Any]:
    schema = DeployNotification.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


class Format(StrEnum):
    JSON = "json"
    SLACK = "slack"


@dataclass(frozen=True)
class Target:
    url: str
    format: Format

    @classmethod
    def parse(cls, text: str) -> Target:
        """``https://...``, ``json+https://...`` or ``slack+https://...`` (http too)."""
        prefix, sep, rest = text.partition("+")
        if sep and prefix in (Format.JSON.value, Format.SLACK.value):
            fmt, url = Format(prefix), rest
        else:
            fmt, url = Format.JSON, text
        if not url.startswith(("http://", "https://")) or len(url) > 2048:
            raise ConfigError(
                f"--notify {display_url(url) if '://' in url else 'value'}: use an http(s) URL, "
                "optionally prefixed with slack+ or json+"
            )
        return cls(url=url, format=fmt)


def build_event(
    report: AppReport,
    *,
    outcome: PassOutcome,
    info: CommitInfo,
    source: str,
    branch: str,
) -> DeployNotification:
    status = AppStatus.APPLIED if report.status is AppStatus.UNCHANGED else report.status
    return DeployNotification(
        app=report.app,
        outcome=status.value,
        revision=outcome.revision,
        author=info.author,
        subject=info.subject,
        tokenId=info.token_id,
        rollbackOf=info.rollback_of,
        actions=[
            NotificationAction(
                kind=a.kind,
                container=a.container,
                reason=a.reason,
                outcome=a.outcome,
                error=a.error,
            )
            for a in outcome.actions_of(report.app)
        ],  # fmt: skip
        error=NotificationError(code=report.code or report.status.value, message=report.message)
        if report.status.is_error
        else None,
        source=source,
        branch=branch,
        time=iso_second(outcome.started_at) or "",
        trigger=outcome.trigger,
    )


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(event: DeployNotification) -> dict[str, Any]:
    """A Slack incoming-webhook message for *event* (user text escaped: no mentions, links)."""
    ok = event.error is None
    icon = ":white_check_mark:" if ok else ":x:"
    head = f"{icon} *{_slack_escape(event.app)}* {event.outcome} at `{event.revision[:12]}`"
    if event.subject:
        by = f" by {_slack_escape(event.author)}" if event.author else ""
        head += f" ({_slack_escape(event.subject)}{by})"
    lines = [head]
    lines += [
        f"• {a.kind} {_slack_escape(a.container)}: {_slack_escape(a.reason)}"
        + ("" if a.outcome == "ok" else f" — failed: {_slack_escape(a.error or '')}")
        for a in event.actions
    ]
    if event.error is not None:
        lines.append(f"{event.error.code}: {_slack_escape(event.error.message)}")
    text = "\n".join(lines)
    if len(text) > SLACK_TEXT_LIMIT:
        text = text[: SLACK_TEXT_LIMIT - 1] + "…"
    return {"text": text}


def body_for(target: Target, event: DeployNotification) -> dict[str, Any]:
    if target.format is Format.SLACK:
        return slack_body(event)
    return event.model_dump(mode="json")


class Notifier:
    """A pass observer that posts an event per changed or failed app to every target."""

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        read_commit: Callable[[str], CommitInfo],
        source: str,
        branch: str,
        metrics: OperationsMetrics,
        worker_factory: Callable[[Target], DeliveryWorker] | None = None,
    ) -> None:
        self.targets = list(targets)
        self.read_commit = read_commit
        self.source = source
        self.branch = branch
        self.metrics = metrics
        factory = worker_factory or self._worker
        self.workers = [factory(target) for target in self.targets]
        self._last_failure: dict[str, tuple[str, str, str]] = {}
        self._lock = threading.Lock()

    def _worker(self, target: Target) -> DeliveryWorker:
        return DeliveryWorker(
            name=display_url(target.url),
            kind="notification",
            on_retry=lambda: self.metrics.delivery_retries.labels(kind="notification").inc(),
        )

    def pass_started(self, *, revision: str) -> None:
        return None

    def pass_finished(self, outcome: PassOutcome) -> None:
        reports = [r for r in outcome.reports_worth_telling() if self._is_news(r, outcome)]
        if not reports or not self.targets:
            return
        try:
            info = self.read_commit(outcome.revision)
        except Exception:  # noqa: BLE001 - an event without author beats no event
            info = UNKNOWN_COMMIT
        for report in reports:
            event = build_event(
                report, outcome=outcome, info=info, source=self.source, branch=self.branch
            )
            for target, worker in zip(self.targets, self.workers, strict=True):
                worker.submit(
                    Delivery(
                        url=target.url,
                        body=body_for(target, event),
                        headers={"content-type": "application/json"},
                        on_done=self._count,
                        description=f"{event.app} {event.outcome}",
                    )
                )

    def _is_news(self, report: AppReport, outcome: PassOutcome) -> bool:
        """False for a failure identical to the last one notified for that app (at any
        revision: another app's commit does not make an unchanged failure news)."""
        with self._lock:
            if not report.status.is_error:
                self._last_failure.pop(report.app, None)
                return True
            key = (report.status.value, report.code or "", report.message)
            if self._last_failure.get(report.app) == key:
                return False
            self._last_failure[report.app] = key
            return True

    def _count(self, ok: bool) -> None:
        self.metrics.notifications.labels(outcome="sent" if ok else "failed").inc()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
