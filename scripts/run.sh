#!/usr/bin/env bash
# `make run`: start `gitberth serve` on the example repo, wait until the example app is running,
# print the API URL, the admin token and the app's URL, then keep serving until Ctrl-C.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
repo="${1:?usage: run.sh EXAMPLE_REPO}"
listen="${GITBERTH_LISTEN:-127.0.0.1:8700}"
api="http://$listen"
token="${GITBERTH_TOKEN:-$("$here/.venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))')}"
export GITBERTH_TOKEN="$token"

if curl -fsS "$api/healthz" >/dev/null 2>&1; then
  echo "run: something already answers on $api; stop it or set GITBERTH_LISTEN=HOST:PORT" >&2
  exit 1
fi
"$here/.venv/bin/gitberth" serve --repo "$repo" --listen "$listen" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' INT TERM EXIT

url=""
for _ in $(seq 1 150); do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "run: gitberth serve exited; see the lines above" >&2
    exit 1
  fi
  url="$(curl -fsS -H "authorization: Bearer $token" "$api/apps/hello" 2>/dev/null \
    | "$here/.venv/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print(next((c["url"] for c in d.get("containers", []) if c.get("url")), ""))' 2>/dev/null || true)"
  [ -n "$url" ] && break
  sleep 0.2
done

cat <<INFO

  gitberth is serving the example repo $repo
  dashboard / API: $api   (OpenAPI at $api/docs, app status at $api/apps)
  admin token:     $token
  example app:     ${url:-not running yet: see $api/apps/hello}

  Commit a change under $repo/apps and it runs within about a second.
  Ctrl-C stops gitberth (the example containers keep running).

INFO
wait "$server"
