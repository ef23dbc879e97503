#!/bin/sh
# Serve /www on $PORT; exit promptly on SIGTERM (PID 1 gets no default signal handling).
trap 'exit 0' TERM INT
httpd -f -p "${PORT:-8080}" -h /www &
wait
