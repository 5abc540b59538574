#!/usr/bin/env bash
# The passkey journey in a real browser (tests/browser/journey.test.mjs): Debian's chromium,
# headless, driven by playwright-core (pinned by tests/browser/package-lock.json) with a
# DevTools virtual authenticator, through the local gateway to the function, the demo table and
# the SES emulator. Saves a screenshot of each page state in docs/ (SCREENSHOT_DIR to change).
# Needs the stack's environment (run it under `scripts/stack.sh with`); starts the function and
# the gateway when they are not up. Then `make try-passkey` (scripts/try-passkey.sh) on the same
# stack.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
require_local_stack
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
export TABLE_NAME="${TABLE_NAME:-passkeys-demo}"
PYTHON="$("$ROOT/scripts/tools.sh" python)/python"
CHROMIUM="$("$ROOT/scripts/tools.sh" chromium)"
PLAYWRIGHT="$("$ROOT/scripts/tools.sh" playwright)"

check_stack_up

# localhost, not 127.0.0.1: the page's origin must be the WebAuthn RP id and allowed origin.
GATEWAY_URL="http://localhost:$(port_of gateway 18080)"
export GATEWAY_URL
export TOKEN_COMMAND="$PYTHON $ROOT/scripts/local-gateway.py token"
export CHROMIUM PYTHON  # the SAM venv's Python has boto3, for the table's items
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$ROOT/docs}"
# Node resolves an ES module's imports from where the file is: the test runs beside its
# node_modules, a copy refreshed each run.
cp "$ROOT/tests/browser/lib.mjs" "$ROOT/tests/browser/journey.test.mjs" "$PLAYWRIGHT/"
node --test "$PLAYWRIGHT/journey.test.mjs"

# `make try-passkey` on this stack: a fresh link to Hal (the journey's user, whose passkey the
# journey removes first when it runs again), registered in a new folder, docs/ untouched.
echo "== make try-passkey"
TOKEN="$($TOKEN_COMMAND --sub 100000000000000010 --org 100000000000000001)"
curl -fsS -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{}' \
  "http://127.0.0.1:$(port_of gateway 18080)/management/v1/users/100000000000000012/passwordless/_send_link" >/dev/null
before="$(stat -c %Y "$SCREENSHOT_DIR/page-done.png")"
PASSKEY_NAME="try-passkey check" PASSKEY_LOCALE=de-DE "$ROOT/scripts/try-passkey.sh" helpdesk@demo.example | tee "$STATE/try-passkey.out"
folder="$(sed -n 's/^try-passkey: screenshots in //p' "$STATE/try-passkey.out")"
[[ -d "$folder" && "$folder" != "$SCREENSHOT_DIR" ]] || { echo "try-passkey: no fresh folder printed" >&2; exit 1; }
for png in page-ready.png page-done.png; do
  [[ -s "$folder/$png" ]] || { echo "try-passkey: no $png in $folder" >&2; exit 1; }
done
grep -q 'passkey "try-passkey check" registered' "$STATE/try-passkey.out" || { echo "try-passkey: no passkey registered" >&2; exit 1; }
# Hal has no preferred language: the page takes the browser's, PASSKEY_LOCALE.
grep -q '^try-passkey: the page in de (browser locale de-DE)$' "$STATE/try-passkey.out" || { echo "try-passkey: PASSKEY_LOCALE=de-DE did not give a German page" >&2; exit 1; }
[[ "$(stat -c %Y "$SCREENSHOT_DIR/page-done.png")" == "$before" ]] || { echo "try-passkey: wrote over $SCREENSHOT_DIR" >&2; exit 1; }
rm -r "$folder"
echo "== make try-passkey: a passkey registered, screenshots in a fresh folder"
