"""A real HTTP receiver on 127.0.0.1 for webhooks gitberth posts (notifications, forge APIs).

It records every request (method, path, headers, JSON body), can answer 500 to the first N
requests (a receiver that is down, then recovers), and can check each request against a rule
(e.g. a forge's documented shape): a request that breaks the rule gets 422 and is recorded with
the reason, so a test sees both what was sent and what was wrong with it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    problem: str | None = None


Rule = Callable[[str, dict[str, str], Any], str | None]
"""(path, lower-cased headers, JSON body) -> what is wrong, or None."""


@dataclass
class Receiver:
    fail_first: int = 0
    rule: Rule | None = None
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def accepted(self, path_prefix: str = "") -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.status < 300 and r.path.startswith(path_prefix)]

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> int:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            failed_so_far = sum(1 for r in self.received if r.status == 500)
            problem = self.rule(path, headers, body) if self.rule else None
            if failed_so_far < self.fail_first:
                status = 500
            elif problem is not None:
                status = 422
            else:
                status = 201
            self.received.append(Received(method, path, headers, body, status, problem))
        return status


@contextmanager
def receiving(*, fail_first: int = 0, rule: Rule | None = None) -> Iterator[Receiver]:
    """A :class:`Receiver` listening on a free 127.0.0.1 port for the block."""
    receiver = Receiver(fail_first=fail_first, rule=rule)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = receiver.handle("POST", self.path, headers, raw)
            payload = b'{"ok": true}' if status < 300 else b'{"message": "no"}'
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
