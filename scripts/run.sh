#!/usr/bin/env bash
# `make run`: the main job end to end on the local stack. Creates and seeds a demo table,
# serves the function under cargo-lambda, sends events/send-link.json as an API Gateway event,
# and prints the answer and the e-mail that arrived; then hands SES's delivery event for that
# mail to the delivery-feedback function and prints the link with its delivery.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
export TABLE_NAME="${TABLE_NAME:-passkeys-demo}"
EVENT="${EVENT:-$ROOT/events/send-link.json}"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
require_local_stack

demo_table
# A function left up by `make dev` is used (restarted if its configuration differs) and left running.
if ! "$ROOT/scripts/lambda.sh" running; then
  trap '"$ROOT/scripts/lambda.sh" down' EXIT
fi
"$ROOT/scripts/lambda.sh" up

echo
echo "== POST /management/v1/users/100000000000000011/passwordless/_send_link ($(basename "$EVENT"))"
response="$("$ROOT/scripts/lambda.sh" invoke "$EVENT")"
echo "$response" | python3 -m json.tool
if ! echo "$response" | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(0 if r.get("statusCode")==200 else 1)'; then
  echo "run: the call did not succeed" >&2
  if [[ "$response" == *USER-Em6Bq* ]]; then
    echo "run: Alice's address is marked undeliverable (an SES bounce or complaint event was recorded for it);" >&2
    echo "  clear it: eval \"\$(scripts/stack.sh env)\" && scripts/passkey-admin undeliverable --clear 100000000000000011" >&2
  fi
  exit 1
fi

echo
echo "== the e-mail that arrived (SES emulator at $MAILBOX_URL)"
python3 "$ROOT/scripts/show-mail.py" "$MAILBOX_URL" alice@demo.example
echo
echo "== SES's delivery event for this mail (simulated: events/ses/delivery.json with the mail's ids), to delivery-feedback"
delivered="$STATE/ses-delivery-event.json"
python3 "$ROOT/scripts/ses-event.py" "$MAILBOX_URL" alice@demo.example "$ROOT/events/ses/delivery.json" > "$delivered"
"$ROOT/scripts/lambda.sh" invoke "$delivered" delivery-feedback | python3 -m json.tool
code_id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["detail"]["mail"]["tags"]["code"][0])' "$delivered")"
echo "== passkey-admin links 100000000000000011, this link only: what SES said about its mail"
"${CARGO_TARGET_DIR:-$ROOT/target}/debug/passkey-admin" links 100000000000000011 \
  | python3 -c 'import json,sys; print(json.dumps([l for l in json.load(sys.stdin) if l["codeId"]==sys.argv[1]], indent=2))' "$code_id"
echo
echo "== the page the link above opens: the function's own, through the local gateway"
if [[ -n "${PASSKEY_STACK_STOPS:-}" ]]; then
  echo "  make run stops the stack it started as it ends, so the page would find no link: run"
  echo "  'make dev' first (it keeps the stack, the function and the gateway up), then 'make run',"
  echo "  and open the link in a browser on this machine."
else
  "$ROOT/scripts/gateway.sh" up >/dev/null
  echo "  Open it in a browser on this machine (localhost counts as a secure origin for passkeys):"
  echo "  'Create passkey' asks the device's screen lock, fingerprint or face, or a security key."
  echo "  Opening it spends nothing; the passkey's creation does. docs/passkeys.md shows each page."
fi
echo
if [[ -n "${PASSKEY_STACK_STOPS:-}" ]]; then
  echo "The stack stops as make run ends, and the mailbox web UI with it: 'make dev' keeps it up"
  echo "(then the mailbox is at $MAILBOX_URL/; 'make status' shows what runs where)."
else
  echo "Mailbox web UI: $MAILBOX_URL/ (the stack keeps running: 'make status' shows it, 'make stop' ends it)"
fi
