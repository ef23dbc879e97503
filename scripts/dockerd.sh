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
# A private engine never uses docker0, the bridge of a system Docker: it gets a bridge of its
# own, GITBERTH_DOCKERD_BRIDGE=NAME:CIDR (gberth0:172.31.239.1/24 by default; several engines on
# one machine, people testing side by side, each need their own, e.g. gbr1:172.31.250.1/24).
spec="${GITBERTH_DOCKERD_BRIDGE:-gberth0:172.31.239.1/24}"
bridge="${spec%%:*}"
cidr="${spec#*:}"
if ! ip link show "$bridge" >/dev/null 2>&1; then
  ip link add "$bridge" type bridge
  ip addr add "$cidr" dev "$bridge"
fi
ip link set "$bridge" up
# Every app gets its own network, and the engine's built-in address pools hold only about 30
# networks. GITBERTH_DOCKERD_POOL (a /16) gives room for 256 (one /24 each; a /14 for 1,024, as
# make bench's 1,000-app scenario needs); by default it is
# 10.<third octet of the bridge's CIDR>.0.0/16, so engines side by side never share addresses.
pool="${GITBERTH_DOCKERD_POOL:-10.$(echo "$cidr" | cut -d. -f3).0.0/16}"

# dockerd deletes the link named docker0 whenever it starts with an address pool on a data root
# it has run on before (it clears its stale default network, and with a pool it also removes
# "the default bridge interface", whoever owns it). That broke a system Docker, and any engine
# beside this one that uses docker0. So while this engine starts, docker0 steps aside under
# another name and comes back afterwards, with its addresses and attached containers.
parked=""
restore_docker0() {
  if [ -n "$parked" ] && ip link show "$parked" >/dev/null 2>&1; then
    ip link set "$parked" down
    ip link set "$parked" name docker0
    ip link set docker0 up
  fi
  parked=""
}
if [ "$bridge" != docker0 ] && [ -d "$dir/data/network" ] && ip link show docker0 >/dev/null 2>&1; then
  parked="gbparked$$"
  parked="${parked:0:15}"
  trap restore_docker0 EXIT
  ip link set docker0 down
  ip link set docker0 name "$parked"
fi

echo "dockerd: starting a private engine at $DOCKER_HOST (log: $dir/dockerd.log)"
nohup setsid dockerd \
  --data-root "$dir/data" \
  --exec-root "$dir/exec" \
  --host "unix://$dir/docker.sock" \
  --pidfile "$dir/docker.pid" \
  --bridge "$bridge" \
  --default-address-pool "base=$pool,size=24" \
  >"$dir/dockerd.log" 2>&1 </dev/null &

for _ in $(seq 1 60); do
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    restore_docker0
    echo "dockerd: engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 0.5
done
echo "dockerd: the engine did not answer within 30 s; last log lines:" >&2
tail -n 20 "$dir/dockerd.log" >&2
exit 1
