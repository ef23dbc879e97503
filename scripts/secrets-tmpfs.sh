#!/usr/bin/env bash
# Make sure gitberth's secret files directory is in RAM: mount a private tmpfs on it when the
# filesystem under it is not tmpfs/ramfs already (as on hosts where /run is on disk).
set -euo pipefail
dir="${GITBERTH_SECRETS_DIR:-/run/gitberth/secrets}"
mkdir -p "$dir"
fs="$(stat -f -c %T "$dir")"
case "$fs" in
  tmpfs|ramfs) exit 0 ;;
esac
if [ "$(id -u)" != 0 ]; then
  echo "secrets-tmpfs: $dir is on $fs, not in RAM; as root run: mount -t tmpfs -o mode=0700 tmpfs $dir" >&2
  exit 1
fi
mount -t tmpfs -o mode=0700,size=64m gitberth-secrets "$dir"
echo "secrets-tmpfs: mounted a tmpfs on $dir"
