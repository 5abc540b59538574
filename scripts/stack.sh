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

log() { echo "stack: $*" >&2; }

port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { # NAME -> true when its PID file names a live process
  local pid_file="$STATE/$1.pid"
  [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

start() { # NAME PORT COMMAND... : start in its own process group, wait until the port answers
  local name="$1" port="$2"; shift 2
  if running "$name"; then return 1; fi
  if port_answers "$port"; then
    log "port $port is taken by a process this script did not start; set ${name^^}_PORT or stop it"
    exit 1
  fi
  setsid "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
  for _ in $(seq 1 200); do
    if port_answers "$port"; then log "$name up on 127.0.0.1:$port (pid $(cat "$STATE/$name.pid"))"; return 0; fi
    if ! running "$name"; then log "$name exited; its log:"; cat "$STATE/$name.log" >&2; exit 1; fi
    sleep 0.05
  done
  log "$name did not answer on port $port within 10 s; its log:"; cat "$STATE/$name.log" >&2
  exit 1
}

stop() { # NAME
  local pid_file="$STATE/$1.pid"
  [[ -f "$pid_file" ]] || return 0
  local pid; pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "$1 stopped (pid $pid)"
  fi
  rm -f "$pid_file"
}

STARTED=()

up() {
  if [[ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then
    local dynoxide; dynoxide="$("$ROOT/scripts/tools.sh" dynoxide)"
    if start dynamodb "$DYNAMODB_PORT" "$dynoxide" --host 127.0.0.1 --port "$DYNAMODB_PORT" --log quiet; then
      STARTED+=(dynamodb)
    fi
  fi
  if [[ -z "${AWS_ENDPOINT_URL_SESV2:-}" ]]; then
    local ses; ses="$("$ROOT/scripts/tools.sh" ses)"
    if start ses "$SES_PORT" "$ses" --host 127.0.0.1 --port "$SES_PORT"; then
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
