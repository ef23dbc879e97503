#!/usr/bin/env bash
# Build gitberth's own image from the top-level Dockerfile, offline of any image registry:
# the base is $BASE_IMAGE, else a local Debian made by scripts/base-image.sh. Pip still reaches
# PyPI from the build containers. Usage: build-gitberth-image.sh [TAG]  (default gitberth:dev)
#
# The tag gitberth:src-<hash of the build inputs> is kept on the engine: when it is already
# there (same Dockerfile, pyproject.toml, runtime lock, README.md and src/), nothing is built at all, so
# test runs on an unchanged tree cost nothing. Prints the image name.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
tag="${1:-gitberth:dev}"
base="${BASE_IMAGE:-$("$here/scripts/base-image.sh")}"

inputs_hash="$(cd "$here" && {
  echo "base=$base"
  sha256sum Dockerfile .dockerignore pyproject.toml requirements/runtime-lock.txt README.md
  find src -type f ! -path '*/__pycache__/*' ! -path '*.egg-info/*' -print0 | sort -z \
    | xargs -0 sha256sum
} | sha256sum | cut -c1-16)"
cached="gitberth:src-$inputs_hash"
if ! docker image inspect "$cached" >/dev/null 2>&1; then
  context="$(mktemp -d)"
  trap 'rm -rf "$context"' EXIT
  (cd "$here" && cp -a Dockerfile .dockerignore pyproject.toml README.md "$context/" \
    && mkdir "$context/requirements" && cp -a requirements/runtime-lock.txt "$context/requirements/" \
    && tar -c --exclude='__pycache__' --exclude='*.egg-info' src | tar -x -C "$context")
  # The CAs this host trusts (pip's own setting first), so pip in the build stage works behind
  # a TLS-intercepting proxy too; only the build stage sees the file.
  ca="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
  if [ -n "$ca" ] && [ -f "$ca" ]; then cp "$ca" "$context/build-ca.pem"; fi
  revision="$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)"
  echo "build-gitberth-image: building $cached from $base (a few minutes the first time)" >&2
  DOCKER_BUILDKIT=0 docker build -q --force-rm \
    --build-arg BASE_IMAGE="$base" \
    --build-arg REVISION="$revision" \
    --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$cached" "$context" >/dev/null
  # Keep the engine small: images of earlier trees, and all but the newest build stage (which
  # holds the dependency layer the next build reuses; `docker images` lists newest first).
  docker images --format '{{.Repository}}:{{.Tag}}' gitberth | grep '^gitberth:src-' \
    | grep -vx "$cached" | xargs -r docker rmi >/dev/null 2>&1 || true
  docker images -q -f dangling=true -f label=io.gitberth.build-stage=true | tail -n +2 \
    | xargs -r docker rmi >/dev/null 2>&1 || true
fi
docker tag "$cached" "$tag"
# The image $tag named before, now untagged (final images carry the OCI title label).
docker images -q -f dangling=true -f label=org.opencontainers.image.title=gitberth \
  | xargs -r docker rmi >/dev/null 2>&1 || true
echo "$tag"
