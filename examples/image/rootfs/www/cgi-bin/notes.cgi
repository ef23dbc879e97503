#!/bin/sh
# The notes page: it asks the store service by its service name ($STORE_URL, e.g.
# http://store:8080) on the app's own network. GET shows the notes and a form; POST (the form,
# or any text body) stores one note through the store and sends the browser back to the page.
store="${STORE_URL:-http://store:8080}"
escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }

if [ "$REQUEST_METHOD" = POST ]; then
  body="$(head -c "${CONTENT_LENGTH:-0}")"
  case "$CONTENT_TYPE" in
    application/x-www-form-urlencoded*) note="$(httpd -d "${body#note=}")" ;;
    *) note="$body" ;;
  esac
  if wget -q -O /dev/null --post-data="$note" "$store/cgi-bin/notes" 2>/dev/null; then
    printf 'Status: 303 See Other\r\nLocation: /cgi-bin/notes.cgi\r\n\r\n'
  else
    printf 'Status: 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\nthe store at %s did not take the note\n' "$store"
  fi
  exit 0
fi

if ! notes="$(wget -q -O - "$store/cgi-bin/notes" 2>/dev/null)"; then
  printf 'Status: 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\nthe store at %s does not answer\n' "$store"
  exit 0
fi
printf 'Content-Type: text/html; charset=utf-8\r\n\r\n'
echo "<!doctype html><title>notes</title><h1>notes ${APP_TITLE:+- $(printf '%s' "$APP_TITLE" | escape)}</h1>"
echo "<p>served by $(hostname), stored by $(printf '%s' "$store" | escape)</p><ul>"
printf '%s\n' "$notes" | escape | sed -n 's|^\(..*\)$|<li>\1</li>|p'
echo '</ul><form method="post"><input name="note" required> <button>add</button></form>'
