"""DockerLogs against the real engine: a followed container that stays silent still delivers
the line it prints later, and closing the follower ends its reader threads."""

from __future__ import annotations

import time

import docker
import pytest

from gitberth.runtime.docker_logs import DockerLogs
from tests.support.engine import EXAMPLE_IMAGE

pytestmark = pytest.mark.docker


def test_a_silent_container_keeps_its_followed_stream(clean_engine: docker.DockerClient) -> None:
    clean_engine.containers.run(
        EXAMPLE_IMAGE,
        ["sh", "-c", 'trap "exit 0" TERM; sleep 3; echo late-line; sleep 100000 & wait'],
        name="quiet-1",
        labels={"gitberth.app": "quiet", "gitberth.service": "quiet"},
        detach=True,
    )
    logs = DockerLogs()
    follower = logs.follow("quiet", tail=0)
    try:
        started = time.monotonic()
        line = follower.lines.get(timeout=20)
        assert line is not None and line.line == "late-line" and line.container == "quiet-1"
        assert time.monotonic() - started >= 2
    finally:
        follower.close()
    deadline = time.monotonic() + 10
    while follower.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not follower.alive(), "closing ends the reader threads"
