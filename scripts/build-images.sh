#!/usr/bin/env bash
# Build the example images offline: FROM scratch plus Debian's static busybox. No registry needed.
# Usage: build-images.sh [TAG...]   tags for the web image examples/image (default
# gitberth/example-web:1.0); the store image examples/store-image is always built as
# gitberth/example-store:1.0 (the notes example runs both).
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
contexts=()
trap 'rm -rf "${contexts[@]}"' EXIT
build() {  # build DIR TAG...
  local dir="$1" context args=() tag
  shift
  context="$(mktemp -d)"
  contexts+=("$context")
  cp -a "$here/examples/$dir/." "$context/"
  cp "$busybox" "$context/busybox"
  for tag in "$@"; do args+=(-t "$tag"); done
  DOCKER_BUILDKIT=0 docker build -q "${args[@]}" "$context" >/dev/null
  echo "build-images: built $*"
}
build image "${tags[@]}"
build store-image gitberth/example-store:1.0
