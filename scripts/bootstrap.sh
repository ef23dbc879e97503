#!/usr/bin/env bash
# Install what is missing on a fresh Debian machine: Debian's docker.io, busybox-static, git,
# chromium (the dashboard's browser tests drive it), debootstrap (a local base for gitberth's
# own image), docker-registry and apache2-utils (the pull tests' registry), lighttpd and
# openssh-server (the private Git repository tests' servers), docker-compose (the benchmarks'
# baseline), python3-venv, and
# the project's virtualenv
# (.venv) with its dev tools, from the hashed lock requirements/lock.txt. Idempotent and quiet when everything is already there.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v curl >/dev/null 2>&1 || missing+=(curl)
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || missing+=(busybox-static)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)  # the dashboard's browser tests
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)  # the base of gitberth's image
# A real image registry for the pull tests, with htpasswd (bcrypt) authentication.
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
# Real Git servers for the private-repository tests: smart HTTP behind lighttpd (basic auth),
# and OpenSSH (its client also carries gitberth's ssh remotes).
command -v lighttpd >/dev/null 2>&1 || missing+=(lighttpd)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
# The benchmarks' baseline: what people run instead of gitberth (make bench).
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bootstrap: please install as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Every dependency, dev tools included, at the version and hashes of requirements/lock.txt
# (`make lock` refreshes it from pyproject.toml's ranges), then gitberth itself on top of them:
# the same install on every machine and in CI, whatever was published since.
stamp=.venv/.installed
lock=requirements/lock.txt
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  echo "bootstrap: installing the locked dependencies ($lock) and gitberth into .venv"
  .venv/bin/pip install -q --disable-pip-version-check --require-hashes -r "$lock"
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  touch "$stamp"
fi
