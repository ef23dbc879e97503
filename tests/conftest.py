"""Fixtures every test group shares: temp Git repos and the real Docker engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

# Registers the quick Hypothesis profile before the plugin loads --hypothesis-profile (make unit).
import tests.support.examples  # noqa: F401
from tests.support.engine import (
    engine,
    ensure_example_image,
    remove_managed_and_test_containers,
)
from tests.support.gitrepo import GitRepo

os.environ.setdefault("DOCKER_HOST", "unix:///var/lib/gitberth-dockerd/docker.sock")


@pytest.fixture
def git_repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    client = engine()
    ensure_example_image(client)
    return client


@pytest.fixture
def clean_engine(docker_client: docker.DockerClient) -> Iterator[docker.DockerClient]:
    """An engine with no gitberth containers before the test, and none left after it."""
    remove_managed_and_test_containers(docker_client)
    yield docker_client
    remove_managed_and_test_containers(docker_client)


@pytest.fixture(scope="session")
def swarm_client() -> docker.DockerClient:
    """The tests' own single-node swarm (see tests/support/swarm.py), not DOCKER_HOST."""
    from tests.support.swarm import swarm_engine

    return swarm_engine()


@pytest.fixture
def clean_swarm(swarm_client: docker.DockerClient) -> Iterator[docker.DockerClient]:
    """A swarm with no gitberth services, secrets or networks before the test and after it."""
    from tests.support.swarm import remove_gitberth_services

    remove_gitberth_services(swarm_client)
    yield swarm_client
    remove_gitberth_services(swarm_client)
