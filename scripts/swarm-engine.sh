#!/usr/bin/env bash
# Make sure a single-node Docker Swarm answers for the Swarm runtime's tests, on an engine of
# its own beside the main test engine (which keeps running the Docker runtime's tests): its own
# data directory, bridge, address pools, Raft listen port and VXLAN data-path port. Two swarms on
# one machine need different data-path ports and address pools (else the second one's tasks are
# rejected: "error creating vxlan interface: file exists"), so every value can be overridden:
#   GITBERTH_SWARM_DOCKERD_DIR     data, socket and pid file   (/var/lib/gitberth-dockerd-swarm)
#   GITBERTH_SWARM_DOCKERD_BRIDGE  NAME:CIDR of its bridge     (gbswarm0:172.31.238.1/24)
#   GITBERTH_SWARM_LISTEN_PORT     Raft/cluster port on 127.0.0.1              (2477)
#   GITBERTH_SWARM_DATA_PATH_PORT  VXLAN port of the overlay networks          (4889)
#   GITBERTH_SWARM_ADDR_POOL       the overlay networks' address pool          (10.139.0.0/16)
#   GITBERTH_SWARM_GWBRIDGE        Linux name of its docker_gwbridge           (gbswgw0)
# Every swarm engine on a host needs its own docker_gwbridge device (host-mode ports and task
# egress go through it): left to its default name, a second swarm engine takes over the first
# one's bridge and the first one's published ports stop answering. So the script creates the
# docker_gwbridge network itself, before `swarm init`, with its own device name.
# Prints the engine's DOCKER_HOST on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${GITBERTH_SWARM_DOCKERD_DIR:-/var/lib/gitberth-dockerd-swarm}"
bridge="${GITBERTH_SWARM_DOCKERD_BRIDGE:-gbswarm0:172.31.238.1/24}"
listen_port="${GITBERTH_SWARM_LISTEN_PORT:-2477}"
data_path_port="${GITBERTH_SWARM_DATA_PATH_PORT:-4889}"
addr_pool="${GITBERTH_SWARM_ADDR_POOL:-10.139.0.0/16}"
gwbridge="${GITBERTH_SWARM_GWBRIDGE:-gbswgw0}"
host="unix://$dir/docker.sock"

GITBERTH_DOCKERD_DIR="$dir" GITBERTH_DOCKERD_BRIDGE="$bridge" DOCKER_HOST="$host" \
  GITBERTH_DOCKERD_POOL="${GITBERTH_SWARM_DOCKERD_POOL:-}" "$here/dockerd.sh" >&2
export DOCKER_HOST="$host"
state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [ "$state" != active ]; then
  if ! docker network inspect docker_gwbridge >/dev/null 2>&1; then
    docker network create --driver bridge \
      --opt com.docker.network.bridge.name="$gwbridge" \
      --opt com.docker.network.bridge.enable_icc=false \
      --opt com.docker.network.bridge.enable_ip_masquerade=true \
      docker_gwbridge >/dev/null
  fi
  echo "swarm-engine: docker swarm init on $host (port $listen_port, data path $data_path_port, pool $addr_pool)" >&2
  docker swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$listen_port" \
    --data-path-port "$data_path_port" --default-addr-pool "$addr_pool" >/dev/null
fi
echo "$host"
