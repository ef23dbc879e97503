#!/usr/bin/env bash
# Build the example image offline: FROM scratch plus Debian's static busybox. No registry needed.
# Usage: build-images.sh [TAG...]   (default tag gitberth/example-web:1.0)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
busybox="$(command -v busybox || true)"
for candidate in /bin/busybox /usr/bin/busybox "$busybox"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && ! ldd "$candidate" >/dev/null 2>&1; then
    busybox="$candidate"; break
  fi
done
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "build-images: a static busybox is needed (apt-get install busybox-static)" >&2
  exit 1
fi
tags=("$@")
[ ${#tags[@]} -gt 0 ] || tags=(gitberth/example-web:1.0)
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp -a "$here/examples/image/." "$context/"
cp "$busybox" "$context/busybox"
args=()
for tag in "${tags[@]}"; do args+=(-t "$tag"); done
DOCKER_BUILDKIT=0 docker build -q "${args[@]}" "$context" >/dev/null
echo "build-images: built ${tags[*]}"
