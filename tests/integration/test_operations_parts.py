"""The pure and local parts of operating deploys: forge request shapes, notification targets
and Slack text, secret redaction, ``since`` parsing, history retention (real SQLite) and the
delivery worker (a real HTTP receiver on 127.0.0.1)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from gitberth.api.routes_logs import parse_since
from gitberth.commit_status import CommitStatusSettings, Forge, State, status_request
from gitberth.container_logs import redact, secret_values, split_timestamp, tail_text
from gitberth.core.errors import ConfigError, InvalidRequestError
from gitberth.core.resolved import EnvSource, Origin, ResolvedValue
from gitberth.database import open_database
from gitberth.delivery import Delivery, DeliveryWorker, display_url
from gitberth.history import HistoryEntry, HistoryStore, Retention
from gitberth.notify import DeployNotification, Format, NotificationAction, Target, slack_body
from gitberth.state import StateDir
from tests.support.receiver import receiving
from tests.support.waiting import wait_until

SHA = "0123456789abcdef0123456789abcdef01234567"


def settings(forge: Forge, repo: str = "acme/shop") -> CommitStatusSettings:
    return CommitStatusSettings.build(
        forge=forge, repo=repo, token="t0k", base_url="https://forge.example/"
    )


class TestForgeRequests:
    def test_github_posts_to_repos_statuses_with_a_bearer_token(self) -> None:
        request = status_request(
            settings(Forge.GITHUB), sha=SHA, state=State.PENDING, description="x" * 300
        )
        assert request.url == f"https://forge.example/repos/acme/shop/statuses/{SHA}"
        assert request.headers["authorization"] == "Bearer t0k"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.body == {"state": "pending", "context": "gitberth", "description": "x" * 140}

    def test_gitea_uses_api_v1_and_a_token_header(self) -> None:
        request = status_request(
            settings(Forge.GITEA), sha=SHA, state=State.FAILURE, description="failed: web"
        )
        assert request.url == f"https://forge.example/api/v1/repos/acme/shop/statuses/{SHA}"
        assert request.headers["authorization"] == "token t0k"
        assert request.body["state"] == "failure"

    def test_gitlab_encodes_the_project_path_and_says_failed(self) -> None:
        request = status_request(
            settings(Forge.GITLAB, "group/sub/proj"), sha=SHA, state=State.FAILURE, description="d"
        )
        assert request.url == (
            f"https://forge.example/api/v4/projects/group%2Fsub%2Fproj/statuses/{SHA}"
        )
        assert request.headers == {"private-token": "t0k"}
        assert request.body == {"state": "failed", "name": "gitberth", "description": "d"}

    @pytest.mark.parametrize(
        ("forge", "repo", "token", "url", "message"),
        [
            (Forge.GITHUB, None, "t", None, "--commit-status-repo"),
            (Forge.GITHUB, "noslash", "t", None, "OWNER/NAME"),
            (Forge.GITHUB, "a/b", None, None, "GITBERTH_COMMIT_STATUS_TOKEN"),
            (Forge.GITEA, "a/b", "t", None, "--commit-status-url"),
            (Forge.GITLAB, "42", "t", "ftp://x", "http(s)"),
        ],
    )
    def test_bad_settings_name_the_option(
        self, forge: Forge, repo: str | None, token: str | None, url: str | None, message: str
    ) -> None:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            CommitStatusSettings.build(forge=forge, repo=repo, token=token, base_url=url)


class TestNotificationTargets:
    def test_the_scheme_prefix_picks_the_format(self) -> None:
        assert Target.parse("https://h/x") == Target("https://h/x", Format.JSON)
        assert Target.parse("json+http://h/x") == Target("http://h/x", Format.JSON)
        assert Target.parse("slack+https://hooks/x") == Target("https://hooks/x", Format.SLACK)

    @pytest.mark.parametrize("bad", ["ftp://h/x", "slack+ftp://h", "hooks.slack.com/x", ""])
    def test_other_urls_are_refused(self, bad: str) -> None:
        with pytest.raises(ConfigError, match="--notify"):
            Target.parse(bad)

    def test_logs_show_only_scheme_and_host(self) -> None:
        assert display_url("https://hooks.slack.com:8443/services/T/B/secret?x=1") == (
            "https://hooks.slack.com:8443"
        )

    def test_slack_text_escapes_what_users_wrote(self) -> None:
        event = DeployNotification(
            app="web",
            outcome="failed",
            revision=SHA,
            author="<!channel> eve",
            subject="fix <https://evil|click> & more",
            tokenId=None,
            rollbackOf=None,
            actions=[
                NotificationAction(
                    kind="replace",
                    container="web-1",
                    reason="image a -> b",
                    outcome="failed",
                    error="unhealthy",
                )
            ],  # fmt: skip
            error=None,
            source="/repo",
            branch="main",
            time="2026-01-01T00:00:00Z",
            trigger="commit",
        )
        text = slack_body(event)["text"]
        assert "<!channel>" not in text and "<https://evil|click>" not in text
        assert "&lt;!channel&gt;" in text and "&amp; more" in text
        assert "replace web-1: image a -&gt; b — failed: unhealthy" in text


def value(text: str, *, secret: str | None) -> ResolvedValue:
    origin = Origin(EnvSource.SECRET, secret) if secret else Origin(EnvSource.INLINE)
    return ResolvedValue(SecretStr(text), origin, "fp")


class TestRedaction:
    def test_every_secret_value_and_each_line_of_a_file_is_removed(self) -> None:
        values = secret_values(
            {"DB": value("s3cret-db", secret="db"), "LEVEL": value("info", secret=None)},
            {"KEY": value("-----BEGIN-----\nAAAAsentinelBBBB\n-----END-----", secret="tls")},
        )
        lines = redact(
            ["connecting with s3cret-db", "key line AAAAsentinelBBBB", "LEVEL=info"], values
        )
        assert lines == ["connecting with [redacted]", "key line [redacted]", "LEVEL=info"]

    def test_tail_text_keeps_the_last_lines_short(self) -> None:
        text = tail_text([f"line {i}" for i in range(30)] + ["x" * 500], count=3, width=10)
        assert text == "line 28\nline 29\n" + "x" * 10 + "…"

    def test_engine_timestamps_are_split_from_the_text(self) -> None:
        assert split_timestamp("2026-01-01T00:00:00.1Z hello world") == (
            "2026-01-01T00:00:00.1Z",
            "hello world",
        )
        assert split_timestamp("no stamp") == ("", "no stamp")


class TestSince:
    def test_numbers_times_and_durations(self) -> None:
        assert parse_since("10m", now=1000.0) == 400.0
        assert parse_since("1.5h", now=10_000.0) == 10_000.0 - 5400
        assert parse_since("123.5", now=0) == 123.5
        assert parse_since("2026-01-01T00:00:00Z", now=0) == 1767225600.0
        assert parse_since(None, now=0) is None

    @pytest.mark.parametrize("bad", ["yesterday", "nan", "inf", "-5", "1e400", "9" * 40 + "d"])
    def test_anything_else_names_the_field(self, bad: str) -> None:
        with pytest.raises(InvalidRequestError) as caught:
            parse_since(bad, now=0)
        assert caught.value.field == "since"

    def test_a_duration_longer_than_the_epoch_means_from_the_start(self) -> None:
        assert parse_since("999999d", now=1000.0) == 0.0


def entry(app: str, n: int, *, at: float | None = None) -> HistoryEntry:
    return HistoryEntry(
        app=app,
        revision=f"{n:040x}",
        outcome="applied",
        at=at if at is not None else time.time(),
        duration_seconds=0.1,
        trigger="commit",
    )


class TestHistoryRetention:
    def test_only_the_newest_entries_per_app_and_none_too_old_are_kept(
        self, tmp_path: Path
    ) -> None:
        db = open_database(StateDir(tmp_path / "state"))
        try:
            store = HistoryStore(db, retention=Retention(max_entries=3, max_age_days=1))
            store.add([entry("web", n) for n in range(5)] + [entry("api", 9)])
            store.add([entry("old", 1, at=time.time() - 2 * 86400)])
            assert [e.revision[-1] for e in store.entries("web")] == ["4", "3", "2"]
            assert len(store.entries("api")) == 1
            assert store.entries("old") == []
        finally:
            db.close()

    def test_entries_survive_a_reopen(self, tmp_path: Path) -> None:
        db = open_database(StateDir(tmp_path / "state"))
        HistoryStore(db).add([entry("web", 1)])
        db.close()
        db = open_database(StateDir(tmp_path / "state"))
        try:
            assert HistoryStore(db).entries("web")[0].revision == f"{1:040x}"
        finally:
            db.close()


class TestDeliveryWorker:
    def test_a_failing_receiver_is_retried_until_it_recovers_in_order(self) -> None:
        outcomes: list[bool] = []
        retries: list[int] = []
        with receiving(fail_first=2) as receiver:
            worker = DeliveryWorker(
                name="r", kind="test", backoff_base=0.05, on_retry=lambda: retries.append(1)
            )
            for n in range(3):
                worker.submit(
                    Delivery(url=f"{receiver.url}/x", body={"n": n}, on_done=outcomes.append)
                )
            wait_until(lambda: len(outcomes) == 3)
            worker.stop()
            assert outcomes == [True, True, True]
            assert [r.body["n"] for r in receiver.accepted()] == [0, 1, 2]
            assert len(retries) == 2

    def test_a_client_error_is_not_retried(self) -> None:
        outcomes: list[bool] = []
        with receiving(rule=lambda path, headers, body: "no") as receiver:
            worker = DeliveryWorker(name="r", kind="test", backoff_base=0.05)
            worker.submit(Delivery(url=receiver.url, body={}, on_done=outcomes.append))
            wait_until(lambda: outcomes)
            worker.stop()
            assert outcomes == [False] and len(receiver.all()) == 1

    def test_submitting_never_blocks_and_a_full_queue_drops_the_oldest(self) -> None:
        outcomes: list[bool] = []
        worker = DeliveryWorker(name="r", kind="test", queue_size=2, attempts=1)
        worker.stop()  # nothing is ever sent: only the queue is exercised
        started = time.monotonic()
        for n in range(5):
            worker.submit(
                Delivery(url="http://127.0.0.1:9/", body={"n": n}, on_done=outcomes.append)
            )
        assert time.monotonic() - started < 0.5
        assert outcomes == [False, False, False] and worker.pending() == 2
