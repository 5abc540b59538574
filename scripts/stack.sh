#!/usr/bin/env bash
# The local stack: dynoxide (DynamoDB) and aws-ses-v2-local (SES v2) on 127.0.0.1 (or on
# $STACK_HOST: make sam-local puts them on the Docker bridge, where containers reach them).
#
#   stack.sh up            start what is not running and not configured elsewhere
#   stack.sh down          stop what stack.sh started (by PID, never by name)
#   stack.sh with CMD...   up, run CMD with the stack's environment, then stop what this call started
#   stack.sh env           print the environment (shell syntax) for the running stack: its
#                          endpoints and the ports every part runs on (or will run on)
#
# Ports: a running part keeps the port recorded when it started (lib.sh); a part not running
# takes ${NAME}_PORT or the default.
#
# An endpoint already set in AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SESV2 is used as it is
# and nothing is started for it, so the same commands run against another emulator; the scripts
# that make AWS calls accept only one on this machine or on STACK_HOST (lib.sh,
# require_local_stack), never AWS itself.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
mkdir -p "$STATE"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

HOST="${STACK_HOST:-127.0.0.1}"
DYNAMODB_PORT="$(port_of dynamodb 18000)"
SES_PORT="$(port_of ses 18005)"

STARTED=()

# An endpoint variable names another server unless it holds the address this script serves
# (as after `eval "$(stack.sh env)"` in a terminal, where a stopped stack must start again).
elsewhere() { # VARIABLE OWN_URL
  [[ -n "${!1:-}" && "${!1}" != "$2" ]]
}

up() {
  if ! elsewhere AWS_ENDPOINT_URL_DYNAMODB "http://$HOST:$DYNAMODB_PORT"; then
    local dynoxide; dynoxide="$("$ROOT/scripts/tools.sh" dynoxide)"
    if start dynamodb "$DYNAMODB_PORT" 10 "$dynoxide" --host "$HOST" --port "$DYNAMODB_PORT" --log quiet; then
      STARTED+=(dynamodb)
    fi
  fi
  if ! elsewhere AWS_ENDPOINT_URL_SESV2 "http://$HOST:$SES_PORT"; then
    local ses; ses="$("$ROOT/scripts/tools.sh" ses)"
    if start ses "$SES_PORT" 10 "$ses" --host "$HOST" --port "$SES_PORT"; then
      STARTED+=(ses)
    fi
  fi
}

print_env() {
  local dynamodb="${AWS_ENDPOINT_URL_DYNAMODB:-http://$HOST:$DYNAMODB_PORT}"
  local ses="${AWS_ENDPOINT_URL_SESV2:-http://$HOST:$SES_PORT}"
  cat <<ENV
export AWS_ENDPOINT_URL_DYNAMODB='$dynamodb'
export AWS_ENDPOINT_URL_SESV2='$ses'
export MAILBOX_URL='${MAILBOX_URL:-$ses}'
export DYNOXIDE_BIN='${DYNOXIDE_BIN:-$("$ROOT/scripts/tools.sh" dynoxide)}'
export AWS_REGION='${AWS_REGION:-us-east-1}'
export AWS_ACCESS_KEY_ID='${AWS_ACCESS_KEY_ID:-test}'
export AWS_SECRET_ACCESS_KEY='${AWS_SECRET_ACCESS_KEY:-test}'
export PASSKEY_STACK_DIR='$STATE'
export DYNAMODB_PORT='$DYNAMODB_PORT' SES_PORT='$SES_PORT'
export LAMBDA_PORT='$(port_of lambda 19000)' GATEWAY_PORT='$(port_of gateway 18080)'
ENV
}

case "${1:-}" in
  up) up ;;
  down) stop dynamodb; stop ses ;;
  # A terminal gets the demo table too, so passkey-admin works after this eval.
  env) print_env; echo "export TABLE_NAME='${TABLE_NAME:-passkeys-demo}'" ;;
  with)
    shift
    trap 'for s in "${STARTED[@]}"; do stop "$s"; done' EXIT
    up
    eval "$(print_env)"
    # What this call will stop when CMD ends (run.sh says whether the mailbox outlives it).
    export PASSKEY_STACK_STOPS="${STARTED[*]}"
    "$@"
    ;;
  *) echo "usage: $0 up|down|env|with CMD..." >&2; exit 2 ;;
esac
