#!/bin/sh
# Serve the notes API on $PORT; exit promptly on SIGTERM (PID 1 gets no default signal handling).
trap 'exit 0' TERM INT
mkdir -p "${DATA_DIR:-/data}"
httpd -f -p "${PORT:-8080}" -h /www &
wait
