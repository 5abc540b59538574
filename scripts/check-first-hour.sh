#!/usr/bin/env bash
# Scripted checks of the local stack's "first hour" (issue 15): a bad configuration is refused
# at once by name, invocations time out with the log's tail, the function's env file is 0600,
# RUST_LOG reaches the function but not cargo-lambda, the recorded ports serve a fresh shell,
# `make status` tells what runs, a changed configuration restarts the function, and the demo
# stack does not rate-limit itself. Run by `make test`; its own state dir, free ports, own
# emulators and table, so it never touches another stack.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
umask 022

WORK="$(mktemp -d)"
export PASSKEY_STACK_DIR="$WORK/stack"
export TABLE_NAME=first-hour-check
unset AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2 MAILBOX_URL RUST_LOG RATE_LIMIT_LINKS LINK_URL_TEMPLATE
read -r DYNAMODB_PORT SES_PORT LAMBDA_PORT GATEWAY_PORT SILENT_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
export DYNAMODB_PORT SES_PORT LAMBDA_PORT GATEWAY_PORT
STATE="$PASSKEY_STACK_DIR"
SILENT_PID=""

cleanup() {
  if [[ -n "$SILENT_PID" ]]; then kill "$SILENT_PID" 2>/dev/null || true; fi
  scripts/gateway.sh down 2>/dev/null || true
  scripts/lambda.sh down 2>/dev/null || true
  scripts/stack.sh down 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "check-first-hour: FAIL: $1" >&2
  if [[ -n "${2:-}" ]]; then sed 's/^/  | /' "$2" >&2; fi
  exit 1
}
ok() { echo "check-first-hour: ok: $*"; }
# A new terminal: it knows the state dir, but no port variables and no endpoints.
fresh_shell() {
  env -u DYNAMODB_PORT -u SES_PORT -u LAMBDA_PORT -u GATEWAY_PORT -u AWS_ENDPOINT_URL_DYNAMODB \
    -u AWS_ENDPOINT_URL_SESV2 -u MAILBOX_URL "$@"
}
status_of() { # EVENT: the statusCode lambda.sh invoke gets, from a fresh shell
  fresh_shell scripts/lambda.sh invoke "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["statusCode"])'
}

scripts/stack.sh up 2>/dev/null
eval "$(scripts/stack.sh env)"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
demo_table >/dev/null 2>&1 || fail "the demo table could not be built or seeded"

# Every variable the function reads can reach it through lambda.sh.
for variable in $(sed -n '/^pub const VARIABLES/,/^];/p' src/config.rs | grep -o '"[A-Z_]*"' | tr -d '"'); do
  grep -q "\b$variable\b" scripts/lambda.sh || fail "scripts/lambda.sh never passes $variable to the function"
done
ok "lambda.sh passes every variable of src/config.rs"

# Item 9: a bad configuration fails `up` within seconds, naming the variable (the build is
# done first, so only `up`'s own work is timed).
cargo build --quiet --bin send-passkey-link
began=$SECONDS
if LINK_URL_TEMPLATE='https://x.example/?code=none' timeout 60 scripts/lambda.sh up >"$WORK/bad.out" 2>&1; then
  fail "lambda.sh up accepted LINK_URL_TEMPLATE without {code}" "$WORK/bad.out"
fi
((SECONDS - began <= 20)) || fail "lambda.sh up took $((SECONDS - began)) s to refuse a bad configuration" "$WORK/bad.out"
grep -q 'LINK_URL_TEMPLATE' "$WORK/bad.out" || fail "the refusal does not name LINK_URL_TEMPLATE" "$WORK/bad.out"
! running lambda || fail "the function was started with a bad configuration"
ok "a bad LINK_URL_TEMPLATE is refused in $((SECONDS - began)) s, by name"

# Item 9: an invocation that gets no answer gives up and shows the log's last lines.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(120)' "$SILENT_PORT" &
SILENT_PID=$!
until port_answers "$SILENT_PORT"; do sleep 0.05; done
mkdir -p "$STATE" && echo "an earlier line of the function's log" >"$STATE/lambda.log"
began=$SECONDS
if LAMBDA_PORT=$SILENT_PORT LAMBDA_INVOKE_TIMEOUT=2 timeout 30 scripts/lambda.sh invoke events/send-link.json \
  >"$WORK/silent.out" 2>&1; then
  fail "an invocation without an answer succeeded" "$WORK/silent.out"
fi
((SECONDS - began <= 10)) || fail "an invocation without an answer took $((SECONDS - began)) s" "$WORK/silent.out"
grep -q "an earlier line of the function's log" "$WORK/silent.out" \
  || fail "a failed invocation does not show the log's last lines" "$WORK/silent.out"
kill "$SILENT_PID"
SILENT_PID=""
ok "an invocation without an answer gives up after the timeout and shows the log"

# Item 8: the env file (AWS keys) is 0600, even where an older file was world-readable.
echo "STALE=1" >"$STATE/lambda.env" && chmod 644 "$STATE/lambda.env"
# Item 4: RUST_LOG for the function only.
RUST_LOG=debug scripts/lambda.sh up >"$WORK/up.out" 2>&1 || fail "lambda.sh up failed" "$WORK/up.out"
mode="$(stat -c %a "$STATE/lambda.env")"
[[ "$mode" == 600 ]] || fail "$STATE/lambda.env has mode $mode, not 600"
ok "lambda.env has mode 600"
grep -qx "RUST_LOG='debug'" "$STATE/lambda.env" || fail "RUST_LOG did not reach the function's env file"
pid="$(cat "$STATE/lambda.pid")"
if tr '\0' '\n' <"/proc/$pid/environ" | grep -q '^RUST_LOG='; then
  fail "RUST_LOG is in cargo-lambda's own environment (pid $pid)"
fi
ok "RUST_LOG is in the function's env file, not in cargo-lambda's environment"

# Item 13: the recorded ports serve a shell that knows none of them.
code="$(status_of events/send-link.json)" || fail "lambda.sh invoke from a fresh shell failed"
[[ "$code" == 200 ]] || fail "lambda.sh invoke from a fresh shell answered $code"
python3 scripts/show-mail.py "http://127.0.0.1:$SES_PORT" alice@demo.example >/dev/null \
  || fail "the invocation from a fresh shell did not reach this stack's function"
fresh_shell scripts/stack.sh env >"$WORK/env.out"
for expected in "127.0.0.1:$DYNAMODB_PORT" "127.0.0.1:$SES_PORT" "LAMBDA_PORT='$LAMBDA_PORT'"; do
  grep -q "$expected" "$WORK/env.out" || fail "stack.sh env in a fresh shell lacks $expected" "$WORK/env.out"
done
ok "a fresh shell finds the running stack's ports (lambda.sh invoke, stack.sh env)"

# Item 12: the demo stack answers more than the production limit of five links.
for n in 2 3 4 5 6; do
  code="$(status_of events/send-link.json)"
  [[ "$code" == 200 ]] || fail "send number $n to the demo user answered $code"
done
ok "six sends to one demo user all answer 200"

# Item 12: the same configuration leaves the function alone; a changed one restarts it.
RUST_LOG=debug scripts/lambda.sh up >"$WORK/same.out" 2>&1 || fail "a second lambda.sh up failed" "$WORK/same.out"
[[ "$(cat "$STATE/lambda.pid")" == "$pid" ]] || fail "an unchanged configuration restarted the function"
RUST_LOG=debug RATE_LIMIT_LINKS=7 scripts/lambda.sh up >"$WORK/changed.out" 2>&1 \
  || fail "lambda.sh up with a changed configuration failed" "$WORK/changed.out"
[[ "$(cat "$STATE/lambda.pid")" != "$pid" ]] || fail "a changed configuration did not restart the function" "$WORK/changed.out"
grep -q 'RATE_LIMIT_LINKS' "$WORK/changed.out" || fail "the restart does not say what changed" "$WORK/changed.out"
grep -qx "RATE_LIMIT_LINKS='7'" "$STATE/lambda.env" || fail "the env file does not hold the new value"
[[ "$(cat "$STATE/lambda.port")" == "$LAMBDA_PORT" ]] || fail "the restarted function moved off its port"
ok "an unchanged configuration keeps the function, a changed one restarts it on its port"

# Item 13: `make status` from a fresh shell tells what runs where; a dead part is reported.
scripts/gateway.sh up 2>/dev/null
fresh_shell make --no-print-directory -s status >"$WORK/status.out" 2>&1 || fail "make status failed" "$WORK/status.out"
for part in "dynamodb +up +127.0.0.1:$DYNAMODB_PORT" "ses +up +127.0.0.1:$SES_PORT" \
  "lambda +up +127.0.0.1:$LAMBDA_PORT" "gateway +up +127.0.0.1:$GATEWAY_PORT" \
  "http://127.0.0.1:$GATEWAY_PORT/management/v1/users/"; do
  grep -Eq "$part" "$WORK/status.out" || fail "make status lacks '$part'" "$WORK/status.out"
done
if grep -q '\${' "$WORK/status.out"; then fail "make status prints an unexpanded variable" "$WORK/status.out"; fi
kill -KILL "$(cat "$STATE/gateway.pid")"
for _ in $(seq 1 100); do running gateway || break; sleep 0.05; done
if fresh_shell make --no-print-directory -s status >"$WORK/dead.out" 2>&1; then
  fail "make status exits 0 with a dead gateway" "$WORK/dead.out"
fi
grep -Eq '^gateway +DEAD' "$WORK/dead.out" || fail "make status does not report the dead gateway" "$WORK/dead.out"
ok "make status reports the running parts, their ports, and a dead one"

echo "check-first-hour: all passed"
