#!/usr/bin/env bash
# The function under cargo-lambda's Lambda runtime emulator, on 127.0.0.1.
#
#   lambda.sh up     build and serve every binary (`cargo lambda watch`), wait until it answers
#   lambda.sh down   stop it (by PID)
#   lambda.sh running   exit 0 when it runs
#   lambda.sh invoke EVENT.json   send an API Gateway event to send-passkey-link
#
# The function's environment comes from .stack/lambda.env, written here from the stack's
# environment and the demo configuration.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
LAMBDA_PORT="${LAMBDA_PORT:-19000}"
PATH="$("$ROOT/scripts/tools.sh" python):$PATH"
mkdir -p "$STATE"

log() { echo "lambda: $*" >&2; }
port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Kept in a variable: a '}' inside ${VAR:-default} would end the expansion early.
DEFAULT_LINK_URL_TEMPLATE='http://localhost:8080/ui/login/login/passwordless/init?userID={userID}&orgID={orgID}&codeID={codeID}&code={code}'

write_env() {
  cat > "$STATE/lambda.env" <<ENV
TABLE_NAME="${TABLE_NAME:?}"
MAIL_FROM="${MAIL_FROM:-Passkeys <no-reply@demo.example>}"
LINK_URL_TEMPLATE="${LINK_URL_TEMPLATE:-$DEFAULT_LINK_URL_TEMPLATE}"
LINK_LIFETIME_SECONDS="${LINK_LIFETIME_SECONDS:-3600}"
AWS_ENDPOINT_URL_DYNAMODB="${AWS_ENDPOINT_URL_DYNAMODB:?}"
AWS_ENDPOINT_URL_SESV2="${AWS_ENDPOINT_URL_SESV2:?}"
AWS_REGION="${AWS_REGION:?}"
AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:?}"
AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:?}"
RUST_LOG="${RUST_LOG:-info}"
ENV
}

up() {
  if running; then log "already running on 127.0.0.1:$LAMBDA_PORT"; return 0; fi
  if port_answers "$LAMBDA_PORT"; then log "port $LAMBDA_PORT is taken; set LAMBDA_PORT"; exit 1; fi
  write_env
  cd "$ROOT"
  setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" \
    --ignore-changes --concurrency 4 --env-file "$STATE/lambda.env" \
    >"$STATE/lambda.log" 2>&1 < /dev/null &
  echo $! > "$STATE/lambda.pid"
  for _ in $(seq 1 600); do
    if port_answers "$LAMBDA_PORT"; then log "cargo lambda watch up on 127.0.0.1:$LAMBDA_PORT"; return 0; fi
    if ! kill -0 "$(cat "$STATE/lambda.pid")" 2>/dev/null; then log "exited; its log:"; cat "$STATE/lambda.log" >&2; exit 1; fi
    sleep 0.1
  done
  log "no answer on port $LAMBDA_PORT within 60 s"; exit 1
}

down() {
  [[ -f "$STATE/lambda.pid" ]] || return 0
  local pid; pid="$(cat "$STATE/lambda.pid")"
  kill -TERM -- "-$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$STATE/lambda.pid"
  log "stopped (pid $pid)"
}

running() { [[ -f "$STATE/lambda.pid" ]] && kill -0 "$(cat "$STATE/lambda.pid")" 2>/dev/null; }

case "${1:-}" in
  up) up ;;
  running) running ;;
  down) down ;;
  invoke)
    # The first invocation waits for the build; the emulator's own timeout covers it.
    (cd "$ROOT" && cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" \
       --data-file "${2:?event file}" send-passkey-link)
    ;;
  *) echo "usage: $0 up|down|invoke EVENT.json" >&2; exit 2 ;;
esac
