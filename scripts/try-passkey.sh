#!/usr/bin/env bash
# `make try-passkey`: registers a passkey through the newest mailed link of the running `make dev`
# stack, in headless chromium with a virtual authenticator (tests/browser/try-passkey.mjs, the
# browser check's chromium and playwright-core), and writes a screenshot of the page ready and
# done to a fresh temporary folder it prints (never over docs/).
#   try-passkey.sh [RECIPIENT]   whose newest mail (default: the newest of all)
# PASSKEY_NAME: the name to type on the page (default: the page's own, the platform's name).
# PASSKEY_LOCALE: the browser's language, a BCP 47 tag such as de-DE (default en-US); the page
# takes it when the user has no preferred language.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

if [[ $# -gt 1 || "${1:-}" == -* ]]; then
  echo "usage: $0 [RECIPIENT]   (the newest mail's link; PASSKEY_NAME names the passkey, PASSKEY_LOCALE sets the browser's language)" >&2
  exit 2
fi
if [[ -n "${PASSKEY_LOCALE:-}" && ! "$PASSKEY_LOCALE" =~ ^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$ ]]; then
  echo "try-passkey: PASSKEY_LOCALE=$PASSKEY_LOCALE is no language tag: use one such as de-DE, fr or es-ES" >&2
  exit 2
fi
# The link opens the page through the gateway, which calls the function: all three must run
# (the mailbox unless MAILBOX_URL names another).
parts=(lambda gateway)
if [[ -z "${MAILBOX_URL:-}" ]]; then parts+=(ses); fi
for part in "${parts[@]}"; do
  if ! running "$part"; then
    echo "try-passkey: the local stack's $part is not running: start it with 'make dev' (in another terminal), then send a link" >&2
    exit 1
  fi
done
MAILBOX_URL="${MAILBOX_URL:-http://127.0.0.1:$(port_of ses 18005)}"
export MAILBOX_URL RECIPIENT="${1:-}"
CHROMIUM="$("$ROOT/scripts/tools.sh" chromium)"
PLAYWRIGHT="$("$ROOT/scripts/tools.sh" playwright)"
SCREENSHOT_DIR="$(mktemp -d "${TMPDIR:-/tmp}/try-passkey.XXXXXX")"
export CHROMIUM SCREENSHOT_DIR
# Node resolves an ES module's imports from where the file is: the script runs beside
# playwright-core's node_modules, copies refreshed each run.
cp "$ROOT/tests/browser/lib.mjs" "$ROOT/tests/browser/try-passkey.mjs" "$PLAYWRIGHT/"
node "$PLAYWRIGHT/try-passkey.mjs"
echo "try-passkey: screenshots in $SCREENSHOT_DIR"
