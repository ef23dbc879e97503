"""The health gate's port question: asked at the container's own address when this host
reaches it (a definite answer at once), else through the published port. Real sockets on
127.0.0.1 stand for both ends."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from gitberth.runtime.docker_observed import container_endpoint
from gitberth.runtime.rollout import Condition, port_answers


@contextmanager
def listener() -> Iterator[int]:
    """A socket that accepts and keeps connections open, as a server waiting for a request."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def condition(*, host_port: int, direct: tuple[str, ...], container_port: int | None) -> Condition:
    return Condition(
        running=True,
        status="running",
        host_port=host_port,
        container_addresses=direct,
        container_port=container_port,
    )


def test_a_refusal_at_the_containers_own_address_is_a_no_though_the_proxy_accepts() -> None:
    # The published port (a userland proxy) accepts and holds; the container itself refuses:
    # nothing listens yet, whatever the proxy's socket says.
    with listener() as proxy:
        asked = condition(host_port=proxy, direct=("127.0.0.1",), container_port=closed_port())
        assert port_answers(asked) is False
        assert port_answers(condition(host_port=proxy, direct=(), container_port=None)) is True


def test_an_accept_at_the_containers_own_address_is_a_yes() -> None:
    with listener() as inside:
        asked = condition(host_port=closed_port(), direct=("127.0.0.1",), container_port=inside)
        assert port_answers(asked) is True


def test_an_address_this_host_cannot_use_falls_back_to_the_published_port() -> None:
    # fe80::1 without a scope cannot be connected to at all (no packet leaves the host).
    with listener() as proxy:
        asked = condition(host_port=proxy, direct=("fe80::1",), container_port=8080)
        assert port_answers(asked) is True
    asked = condition(host_port=closed_port(), direct=("fe80::1",), container_port=8080)
    assert port_answers(asked) is False


def test_the_endpoint_is_the_tcp_port_behind_the_first_published_one_and_every_address() -> None:
    attrs = {
        "NetworkSettings": {
            "Ports": {
                "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
                "9090/tcp": None,
                "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}],
            },
            "Networks": {
                "gitberth-web": {"IPAddress": "10.7.3.2"},
                "gitberth-shared": {"IPAddress": "10.7.9.4"},
                "not-connected": {"IPAddress": ""},
            },
        }
    }
    assert container_endpoint(attrs) == (("10.7.3.2", "10.7.9.4"), 8080)
    assert container_endpoint({"NetworkSettings": {}}) == ((), None)
