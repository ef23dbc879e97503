#!/bin/sh
# Lists env var names and secret file names only: values must never leave the container.
echo "Content-Type: text/plain"
echo
echo "gitberth example app ${APP_TITLE:+- $APP_TITLE}"
echo "hostname: $(hostname)"
echo
echo "environment variables (names only):"
env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' | sort \
  | grep -vE '^(GATEWAY_INTERFACE|HTTP_.*|PATH_INFO|QUERY_STRING|REMOTE_.*|REQUEST_.*|SCRIPT_.*|SERVER_.*)$' \
  | sed 's/^/  /'
echo
echo "files in /run/secrets (names only):"
if [ -d /run/secrets ]; then
  ls -1 /run/secrets | sed 's/^/  /'
else
  echo "  (none mounted)"
fi
