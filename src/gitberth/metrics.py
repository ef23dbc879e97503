"""Prometheus metrics of the reconcile loop, in a registry of their own.

A registry per server (not the process-wide default) keeps two servers in one test process
from colliding and keeps library metrics we did not ask for out of ``/metrics``. Every name
starts with ``gitberth_``; every series of a loop carries the ``source`` it follows, so a
dashboard can tell a failing source from a healthy one on one server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServerMetrics:
    """The server's registry: every source's loop series (labelled ``source``) and the
    operations counters; :meth:`render` is the body of ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.pass_duration = Histogram(
            "gitberth_pass_duration_seconds",
            "Duration of one reconcile pass (observe, plan, apply).",
            ["source"],
            registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.passes = Counter(
            "gitberth_passes_total",
            "Reconcile passes by source and outcome (noop, applied, errors, failed).",
            ["source", "outcome"],
            registry=self.registry,
        )
        self.actions = Counter(
            "gitberth_actions_total",
            "Container actions by source, kind (create, replace, remove) and outcome (ok, failed).",
            ["source", "kind", "outcome"],
            registry=self.registry,
        )
        self.apps = Gauge(
            "gitberth_apps",
            "Apps by source and sync state.",
            ["source", "sync_state"],
            registry=self.registry,
        )
        self.last_applied = Gauge(
            "gitberth_last_applied_revision_timestamp_seconds",
            "Unix time at which a source's revision was last fully applied.",
            ["source"],
            registry=self.registry,
        )
        self.docker_up = Gauge(
            "gitberth_docker_up",
            "1 when the source loop's last engine call succeeded, 0 while Docker is unreachable.",
            ["source"],
            registry=self.registry,
        )
        self.source_up = Gauge(
            "gitberth_source_up",
            "1 when the last read or fetch of the source's Git repository succeeded.",
            ["source"],
            registry=self.registry,
        )
        self.operations = OperationsMetrics(self.registry)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


class _Labelled:
    """A labelled metric with the ``source`` label already filled in."""

    def __init__(self, metric: Counter | Gauge | Histogram, source: str) -> None:
        self._metric = metric
        self._source = source

    def labels(self, **labels: str) -> Any:
        return self._metric.labels(source=self._source, **labels)


class LoopMetrics:
    """One source's loop series in the server's registry, every one labelled ``source=<name>``.

    A loop built alone (tests, ``LoopMetrics()``) gets a registry of its own, which keeps two
    loops in one test process from colliding."""

    def __init__(self, server: ServerMetrics | None = None, *, source: str = "default") -> None:
        self.server = server or ServerMetrics()
        self.source = source
        self.registry = self.server.registry
        self.operations = self.server.operations
        self.pass_duration = self.server.pass_duration.labels(source=source)
        self.passes = _Labelled(self.server.passes, source)
        self.actions = _Labelled(self.server.actions, source)
        self.last_applied = self.server.last_applied.labels(source=source)
        self.docker_up = self.server.docker_up.labels(source=source)
        self.source_up = self.server.source_up.labels(source=source)

    def set_apps(self, counts: Mapping[str, int]) -> None:
        for state, count in counts.items():
            self.server.apps.labels(source=self.source, sync_state=state).set(count)

    def render(self) -> bytes:
        return self.server.render()


class OperationsMetrics:
    """Counters of what gitberth tells the outside world and does on request: notifications,
    commit statuses, rollbacks, and the log streams open right now."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "gitberth_notifications_total",
            "Notification posts by outcome (sent, failed after every retry).",
            ["outcome"],
            registry=registry,
        )
        self.commit_statuses = Counter(
            "gitberth_commit_statuses_total",
            "Commit statuses posted to the forge by state and outcome (sent, failed).",
            ["state", "outcome"],
            registry=registry,
        )
        self.delivery_retries = Counter(
            "gitberth_delivery_retries_total",
            "Failed attempts to deliver a notification or commit status that were retried.",
            ["kind"],
            registry=registry,
        )
        self.rollbacks = Counter(
            "gitberth_rollbacks_total",
            "Rollback requests by outcome (committed, or the error code).",
            ["outcome"],
            registry=registry,
        )
        self.log_streams = Gauge(
            "gitberth_log_streams",
            "Log streams (GET /apps/{name}/logs?follow=true) open right now.",
            registry=registry,
        )
