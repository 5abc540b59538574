#!/usr/bin/env bash
# The local stack: dynoxide (DynamoDB) and aws-ses-v2-local (SES v2) on 127.0.0.1.
#
#   stack.sh up            start what is not running and not configured elsewhere
#   stack.sh down          stop what stack.sh started (by PID, never by name)
#   stack.sh with CMD...   up, run CMD with the stack's environment, then stop what this call started
#   stack.sh env           print the environment (shell syntax) for the running stack
#
# An endpoint already set in AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SESV2 is used as it is
# and nothing is started for it, so the same commands run against another emulator or AWS.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
DYNAMODB_PORT="${DYNAMODB_PORT:-18000}"
SES_PORT="${SES_PORT:-18005}"
mkdir -p "$STATE"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

STARTED=()

up() {
  if [[ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then
    local dynoxide; dynoxide="$("$ROOT/scripts/tools.sh" dynoxide)"
    if start dynamodb "$DYNAMODB_PORT" 10 "$dynoxide" --host 127.0.0.1 --port "$DYNAMODB_PORT" --log quiet; then
      STARTED+=(dynamodb)
    fi
  fi
  if [[ -z "${AWS_ENDPOINT_URL_SESV2:-}" ]]; then
    local ses; ses="$("$ROOT/scripts/tools.sh" ses)"
    if start ses "$SES_PORT" 10 "$ses" --host 127.0.0.1 --port "$SES_PORT"; then
      STARTED+=(ses)
    fi
  fi
}

print_env() {
  local dynamodb="${AWS_ENDPOINT_URL_DYNAMODB:-http://127.0.0.1:$DYNAMODB_PORT}"
  local ses="${AWS_ENDPOINT_URL_SESV2:-http://127.0.0.1:$SES_PORT}"
  cat <<ENV
export AWS_ENDPOINT_URL_DYNAMODB='$dynamodb'
export AWS_ENDPOINT_URL_SESV2='$ses'
export MAILBOX_URL='${MAILBOX_URL:-$ses}'
export DYNOXIDE_BIN='${DYNOXIDE_BIN:-$("$ROOT/scripts/tools.sh" dynoxide)}'
export AWS_REGION='${AWS_REGION:-us-east-1}'
export AWS_ACCESS_KEY_ID='${AWS_ACCESS_KEY_ID:-test}'
export AWS_SECRET_ACCESS_KEY='${AWS_SECRET_ACCESS_KEY:-test}'
ENV
}

case "${1:-}" in
  up) up ;;
  down) stop dynamodb; stop ses ;;
  env) print_env ;;
  with)
    shift
    trap 'for s in "${STARTED[@]}"; do stop "$s"; done' EXIT
    up
    eval "$(print_env)"
    "$@"
    ;;
  *) echo "usage: $0 up|down|env|with CMD..." >&2; exit 2 ;;
esac
