#!/usr/bin/env bash
# Make sure a Docker engine answers at $DOCKER_HOST, starting a private dockerd if none does.
# A private engine keeps its data, socket and pid file under $GITBERTH_DOCKERD_DIR, so it never
# disturbs a system Docker. Prints nothing but progress; exits non-zero when no engine comes up.
set -euo pipefail

dir="${GITBERTH_DOCKERD_DIR:-/var/lib/gitberth-dockerd}"
export DOCKER_HOST="${DOCKER_HOST:-unix://$dir/docker.sock}"

if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  exit 0
fi

if [ "${DOCKER_HOST}" != "unix://$dir/docker.sock" ]; then
  echo "dockerd: DOCKER_HOST=$DOCKER_HOST does not answer, and it is not gitberth's private engine" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "dockerd: starting a private engine needs root (or set DOCKER_HOST to a running engine)" >&2
  exit 1
fi

mkdir -p "$dir"
if [ -f "$dir/docker.pid" ] && kill -0 "$(cat "$dir/docker.pid")" 2>/dev/null; then
  kill "$(cat "$dir/docker.pid")" || true
  sleep 2
fi
rm -f "$dir/docker.sock" "$dir/docker.pid"
# Several private engines on one machine (people testing side by side) each need their own
# bridge: GITBERTH_DOCKERD_BRIDGE=NAME:CIDR (e.g. gbr1:172.31.250.1/24) creates and uses it.
bridge_args=()
if [ -n "${GITBERTH_DOCKERD_BRIDGE:-}" ]; then
  bridge="${GITBERTH_DOCKERD_BRIDGE%%:*}"
  cidr="${GITBERTH_DOCKERD_BRIDGE#*:}"
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$cidr" dev "$bridge"
  fi
  ip link set "$bridge" up
  bridge_args=(--bridge "$bridge")
fi
# Every app gets its own network, and the engine's built-in address pools hold only about 30
# networks. GITBERTH_DOCKERD_POOL (a /16) gives room for 256 (one /24 each; a /14 for 1,024, as
# make bench's 1,000-app scenario needs); by default it is
# 10.<third octet of the bridge>.0.0/16 with GITBERTH_DOCKERD_BRIDGE (so engines side by side
# never share addresses), else 10.199.0.0/16.
pool="${GITBERTH_DOCKERD_POOL:-}"
if [ -z "$pool" ]; then
  octet=199
  if [ -n "${GITBERTH_DOCKERD_BRIDGE:-}" ]; then
    octet="$(echo "${GITBERTH_DOCKERD_BRIDGE#*:}" | cut -d. -f3)"
  fi
  pool="10.$octet.0.0/16"
fi
pool_args=(--default-address-pool "base=$pool,size=24")
echo "dockerd: starting a private engine at $DOCKER_HOST (log: $dir/dockerd.log)"
nohup setsid dockerd \
  --data-root "$dir/data" \
  --exec-root "$dir/exec" \
  --host "unix://$dir/docker.sock" \
  --pidfile "$dir/docker.pid" \
  "${bridge_args[@]}" \
  "${pool_args[@]}" \
  >"$dir/dockerd.log" 2>&1 </dev/null &

for _ in $(seq 1 60); do
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    echo "dockerd: engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 0.5
done
echo "dockerd: the engine did not answer within 30 s; last log lines:" >&2
tail -n 20 "$dir/dockerd.log" >&2
exit 1
