#!/usr/bin/env bash
# `make dev`, after `stack.sh up`: the demo table, the function and the local gateway, left
# running. Run again, it applies a changed configuration (the function restarts when its
# environment would change). Ends with `status.sh`: what runs where and what to try.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
export TABLE_NAME="${TABLE_NAME:-passkeys-demo}"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
require_local_stack

demo_table
"$ROOT/scripts/lambda.sh" up
"$ROOT/scripts/gateway.sh" up
echo
"$ROOT/scripts/status.sh"
