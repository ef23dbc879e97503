"""The container image's HEALTHCHECK: exit 0 when this container's ``/healthz`` answers 200.

The image has no curl, and the full CLI takes half a second to import, so Docker runs this tiny
module instead (``python -m gitberth.healthcheck``), with only the standard library. It asks
the address ``serve`` listens on (``$GITBERTH_LISTEN``), turning a wildcard address into
loopback, since the check runs inside the same container.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_LISTEN = "127.0.0.1:8700"
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def healthz_url(listen: str) -> str:
    """The ``/healthz`` URL to ask for a ``HOST:PORT`` listen address (``[::]:8700`` too)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    host = _WILDCARDS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def main() -> int:
    url = healthz_url(os.environ.get("GITBERTH_LISTEN") or DEFAULT_LISTEN)
    try:
        with urllib.request.urlopen(url, timeout=4) as response:
            healthy = response.status == 200
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    print("healthy" if healthy else f"unhealthy: {url} answered {response.status}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
