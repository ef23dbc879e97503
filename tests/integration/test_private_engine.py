"""scripts/dockerd.sh, the private engine make run and make test start: it never takes or breaks
the docker0 bridge of a system Docker beside it, even when it restarts.

Each test runs the script in a network namespace of its own (``unshare --net``) with a docker0
of its own, so the machine's real bridges are never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="starts dockerd in a network namespace of its own: needs root and unshare",
)

# Runs inside the namespace: a foreign docker0 (as a system Docker leaves it), then the private
# engine started, stopped and started again on the same data root; prints what survived.
SCENARIO = r"""
set -euo pipefail
ip link set lo up
ip link add docker0 type bridge
ip addr add 10.250.7.1/24 dev docker0
ip link set docker0 up
export GITBERTH_DOCKERD_DIR="$ENGINE_DIR" DOCKER_HOST="unix://$ENGINE_DIR/docker.sock"
stop_engine() {
  pid="$(cat "$ENGINE_DIR/docker.pid")"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
trap 'stop_engine 2>/dev/null || true' EXIT
"$SCRIPT" >/dev/null
stop_engine
"$SCRIPT" >/dev/null
name='{{index .Options "com.docker.network.bridge.name"}}'
echo "bridge=$(docker network inspect bridge --format "$name")"
echo "docker0=$(ip -o -4 addr show docker0 | awk '{print $4}')"
echo "docker0-flags=$(ip -o link show docker0 | grep -o '<[^>]*>')"
"""


@pytest.fixture
def engine_dir() -> Iterator[Path]:
    # short: dockerd's containerd sockets live under it, and a socket path holds 108 bytes
    path = Path(tempfile.mkdtemp(prefix="gbd-", dir="/tmp"))
    yield path
    subprocess.run(["umount", "-R", str(path / "data")], capture_output=True, check=False)
    shutil.rmtree(path, ignore_errors=True)


def run_in_own_network(engine_dir: Path) -> dict[str, str]:
    done = subprocess.run(
        ["unshare", "--net", "bash", "-c", SCENARIO],
        env={
            **os.environ,
            "ENGINE_DIR": str(engine_dir),
            "SCRIPT": str(ROOT / "scripts" / "dockerd.sh"),
            "GITBERTH_DOCKERD_BRIDGE": "",
            "GITBERTH_DOCKERD_POOL": "",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def test_a_restarted_private_engine_leaves_a_system_dockers_bridge_alone(engine_dir: Path) -> None:
    seen = run_in_own_network(engine_dir)

    assert seen["bridge"] == "gberth0"  # its own bridge, never docker0
    # dockerd with an address pool deletes docker0 when it starts on a data root it ran on before
    assert seen["docker0"] == "10.250.7.1/24"
    assert ",UP" in seen["docker0-flags"]  # and it is up again
