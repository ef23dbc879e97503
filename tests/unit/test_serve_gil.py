"""``serve`` hands the GIL between its threads promptly (the group commit's hand-overs)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from gitberth.cli.serve_command import share_the_gil_promptly


@pytest.fixture
def restored_switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("restored_switch_interval")
def test_serve_lets_a_waiting_thread_take_the_gil_within_a_millisecond() -> None:
    sys.setswitchinterval(0.005)  # Python's default
    share_the_gil_promptly()
    assert sys.getswitchinterval() <= 0.001
