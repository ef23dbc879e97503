#!/usr/bin/env bash
# Make a Git repository from examples/quickstart (committed on branch main) at $1, once.
# An existing repo is left as it is, so local commits made while trying gitberth survive.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
target="${1:?usage: example-repo.sh DIR}"
if [ -d "$target/.git" ]; then
  exit 0
fi
mkdir -p "$target"
cp -a "$here/examples/quickstart/." "$target/"
git -C "$target" init -q -b main
git -C "$target" add -A
git -C "$target" -c user.name=gitberth -c user.email=gitberth@localhost commit -q -m "example apps"
echo "example-repo: created $target"
