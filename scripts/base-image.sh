#!/usr/bin/env bash
# Make a local Debian base image with python3 for building gitberth's own Dockerfile when no
# image registry is reachable (CI, tests): debootstrap a minimal bookworm with python3,
# python3-venv, git and an ssh client (for ssh:// sources), then `docker import` it.
# Usage: base-image.sh [NAME] (default gitberth/base-python:bookworm-<hash of the package
# list>, so a changed list never reuses an older base); prints the image name.
#
# Cached twice, so the debootstrap (about a minute) runs once per machine: the imported image
# stays on the engine and is reused when present, and the root file system is kept as a tarball
# in $GITBERTH_CACHE_DIR (default /var/cache/gitberth), so a fresh engine imports it in seconds.
set -euo pipefail
packages="python3,python3-venv,git,ca-certificates,openssh-client"
packages_hash="$(printf '%s' "$packages" | sha256sum | cut -c1-8)"
name="${1:-gitberth/base-python:bookworm-$packages_hash}"
cache_dir="${GITBERTH_CACHE_DIR:-/var/cache/gitberth}"
tarball="$cache_dir/base-python-bookworm-$packages_hash.tar"
mirror="${GITBERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$name" >/dev/null 2>&1; then
  echo "$name"
  exit 0
fi
if [ ! -s "$tarball" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "base-image: debootstrap needs root (or import a base yourself and pass BASE_IMAGE)" >&2
    exit 1
  fi
  command -v debootstrap >/dev/null 2>&1 || {
    echo "base-image: debootstrap is missing (scripts/bootstrap.sh installs it)" >&2
    exit 1
  }
  mkdir -p "$cache_dir"
  rootfs="$(mktemp -d "$cache_dir/rootfs.XXXXXX")"
  # debootstrap mounts /proc (and more) inside the tree while it configures packages; never
  # delete or pack through a mount that is still there.
  unmount_tree() {
    awk -v root="$rootfs" '$2 == root || index($2, root "/") == 1 { print $2 }' /proc/mounts \
      | sort -r | while read -r mount_point; do umount -l "$mount_point" || true; done
  }
  cleanup() { unmount_tree; rm -rf --one-file-system "$rootfs" "$tarball.partial"; }
  trap cleanup EXIT
  echo "base-image: debootstrap bookworm into $rootfs (about a minute, once per machine)" >&2
  debootstrap --variant=minbase --include="$packages" \
    bookworm "$rootfs" "$mirror" >"$cache_dir/debootstrap.log" 2>&1 || {
    echo "base-image: debootstrap failed; see $cache_dir/debootstrap.log" >&2
    exit 1
  }
  unmount_tree
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar --numeric-owner --one-file-system -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
fi
docker import "$tarball" "$name" >/dev/null
echo "base-image: imported $name from $tarball" >&2
echo "$name"
