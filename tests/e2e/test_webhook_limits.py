"""``POST /hooks/git`` cannot be used to make the server read (and hold) a huge body.

Without a webhook secret, or without a signature header, it answers 401 before reading a byte;
with one, the body is capped at 1 MiB while it streams (413). Checked over a raw socket with a
chunked body, so the test sees whether the answer comes before the body is finished.
"""

from __future__ import annotations

import select
import socket

import docker
import httpx
import pytest

from tests.e2e.conftest import Server, StartServer
from tests.support.gitrepo import GitRepo

pytestmark = pytest.mark.docker

CHUNK = b"x" * 65536
BUFFERED = 12 * 1024 * 1024
"""Room for loopback socket buffers: far below the 64 MiB a body-reading server would take."""


def send_chunked_until_answered(
    server: Server, *, headers: dict[str, str], most: int = 64 * 1024 * 1024
) -> tuple[int, int]:
    """Stream a never-ending chunked body; return (status, bytes sent) once the server answers.

    The body is never terminated: a server that waits for all of it never answers (the test
    then fails on the byte budget instead of hanging). Bytes sent include what the kernel's
    socket buffers absorbed (a few MiB on loopback), not only what the server read.
    """
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        head = "POST /hooks/git HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        sock.sendall((head + "\r\n").encode("latin-1"))
        sent = 0
        while sent < most:
            readable, _, _ = select.select([sock], [], [], 0.002)
            if readable:
                break
            try:
                sock.sendall(b"%x\r\n" % len(CHUNK) + CHUNK + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(CHUNK)
        readable, _, _ = select.select([sock], [], [], 10)
        assert readable, f"no answer after {sent} bytes of body"
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1]), sent


def test_without_a_webhook_secret_the_hook_is_refused_before_the_body_is_read(
    git_repo: GitRepo, start_server: StartServer, clean_engine: docker.DockerClient
) -> None:
    git_repo.commit({"README.md": "no apps\n"})
    server = start_server(repo=git_repo.path)
    status, sent = send_chunked_until_answered(
        server, headers={"x-hub-signature-256": "sha256=" + "0" * 64}
    )
    assert status == 401
    assert sent <= BUFFERED


def test_an_unsigned_hook_is_refused_before_the_body_is_read(module_repo_server: Server) -> None:
    status, sent = send_chunked_until_answered(module_repo_server, headers={})
    assert status == 401
    assert sent <= BUFFERED


def test_a_signed_hook_over_1_mib_is_cut_off_while_it_streams(module_repo_server: Server) -> None:
    status, sent = send_chunked_until_answered(
        module_repo_server, headers={"x-hub-signature-256": "sha256=" + "0" * 64}
    )
    assert status == 413
    assert sent <= BUFFERED


@pytest.mark.parametrize("header", ["x-hub-signature-256", "x-gitea-signature", "x-gitlab-token"])
def test_a_non_ascii_signature_is_401_not_a_server_error(
    module_repo_server: Server, header: str
) -> None:
    response = httpx.post(
        f"{module_repo_server.url}/hooks/git",
        content=b'{"ref": "refs/heads/main"}',
        headers={header: "sha256=\u00e9\u00e9".encode("latin-1")},  # type: ignore[dict-item]
    )
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert "unhandled" not in module_repo_server.logs()
