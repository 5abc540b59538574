#!/usr/bin/env bash
# `make run`: the main job end to end on the local stack. Creates and seeds a demo table,
# serves the function under cargo-lambda, sends events/send-link.json as an API Gateway event,
# and prints the answer and the e-mail that arrived.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export TABLE_NAME="${TABLE_NAME:-passkeys-demo}"
EVENT="${EVENT:-$ROOT/events/send-link.json}"

cargo build --quiet --bin passkey-admin
"$ROOT/target/debug/passkey-admin" create-table
"$ROOT/target/debug/passkey-admin" seed "$ROOT/seed/demo.json"
# A function left up by `make dev` is used as it is and left running.
if ! "$ROOT/scripts/lambda.sh" running; then
  trap '"$ROOT/scripts/lambda.sh" down' EXIT
  "$ROOT/scripts/lambda.sh" up
fi

echo
echo "== POST /management/v1/users/100000000000000011/passwordless/_send_link ($(basename "$EVENT"))"
response="$("$ROOT/scripts/lambda.sh" invoke "$EVENT")"
echo "$response" | python3 -m json.tool
echo "$response" | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r.get("statusCode")==200 else 1)' \
  || { echo "run: the call did not succeed" >&2; exit 1; }

echo
echo "== the e-mail that arrived (SES emulator at $MAILBOX_URL)"
python3 "$ROOT/scripts/show-mail.py" "$MAILBOX_URL" alice@demo.example
echo
echo "Mailbox web UI: $MAILBOX_URL/ (while the stack runs: 'make dev' keeps it up, 'make stop' ends it)"
