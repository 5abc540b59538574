#!/usr/bin/env bash
# The passkey journey in a real browser (tests/browser/journey.test.mjs): Debian's chromium,
# headless, driven by playwright-core (pinned by tests/browser/package-lock.json) with a
# DevTools virtual authenticator, through the local gateway to the function, the demo table and
# the SES emulator. Saves a screenshot of each page state in docs/ (SCREENSHOT_DIR to change).
# Needs the stack's environment (run it under `scripts/stack.sh with`); starts the function and
# the gateway when they are not up.
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
cp "$ROOT/tests/browser/journey.test.mjs" "$PLAYWRIGHT/"
node --test "$PLAYWRIGHT/journey.test.mjs"
