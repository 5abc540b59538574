#!/usr/bin/env bash
# The local stack at a glance.
#
#   status.sh        what runs where (port, PID, log), healthy or not, and what to try;
#                    exits 1 when a part that was started is dead or does not answer
#   status.sh logs   follow every part's log (Ctrl-C ends)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

UNHEALTHY=0

part() { # NAME DEFAULT_PORT WHAT [ENDPOINT_VARIABLE]
  local name="$1" what="$3" endpoint="${4:-}" port
  port="$(port_of "$name" "$2")"
  if running "$name"; then
    local health="up"
    if ! port_answers "$port"; then health="NOT ANSWERING"; UNHEALTHY=1; fi
    printf '%-9s %-14s 127.0.0.1:%-6s pid %-8s %s\n' "$name" "$health" "$port" "$(cat "$STATE/$name.pid")" "$what"
  elif [[ -f "$STATE/$name.pid" ]]; then
    printf '%-9s %-14s %s\n' "$name" "DEAD" "pid $(cat "$STATE/$name.pid") is gone: see $STATE/$name.log"
    UNHEALTHY=1
  elif [[ -n "$endpoint" && -n "${!endpoint:-}" && "${!endpoint}" != "http://127.0.0.1:$port" ]]; then
    printf '%-9s %-14s %s\n' "$name" "elsewhere" "${!endpoint} (from $endpoint)"
  else
    printf '%-9s %s\n' "$name" "stopped"
  fi
}

status() {
  echo "local stack (state and logs in $STATE):"
  part dynamodb 18000 "DynamoDB (dynoxide, in memory)" AWS_ENDPOINT_URL_DYNAMODB
  part ses 18005 "SES v2 (aws-ses-v2-local, in memory)" AWS_ENDPOINT_URL_SESV2
  part lambda 19000 "send-passkey-link and delivery-feedback under cargo lambda watch"
  part gateway 18080 "JWT gateway -> lambda"
  if running lambda; then
    echo "function configuration ($STATE/lambda.env, AWS settings aside):"
    grep -v '^AWS_' "$STATE/lambda.env" | sed 's/^/  /'
  fi
  local stack_dir=""
  if [[ "$STATE" != "$ROOT/.stack" ]]; then stack_dir="PASSKEY_STACK_DIR=$STATE "; fi
  if running dynamodb || running ses || running lambda || running gateway; then echo "try:"; fi
  if running ses; then
    echo "  mailbox web UI: http://127.0.0.1:$(port_of ses 18005)/"
    echo "  ${stack_dir}make mail   (the newest mail: recipient, subject, link)"
  fi
  if running lambda; then
    echo "  ${stack_dir}scripts/lambda.sh invoke events/send-link.json"
    echo "  ${stack_dir}scripts/lambda.sh invoke events/ses/delivery.json   (SES's event, to delivery-feedback)"
  fi
  if running dynamodb; then
    echo "  eval \"\$(${stack_dir}scripts/stack.sh env)\" && scripts/passkey-admin links 100000000000000011"
  fi
  if running gateway; then
    echo "  curl -i -X POST -H 'content-type: application/json' -d '{}' \\"
    echo "    -H \"Authorization: Bearer \$(${stack_dir}scripts/gateway.sh token 100000000000000010 100000000000000001)\" \\"
    echo "    http://127.0.0.1:$(port_of gateway 18080)/management/v1/users/100000000000000011/passwordless/_send_link"
  fi
  return "$UNHEALTHY"
}

case "${1:-status}" in
  status) status ;;
  logs)
    shopt -s nullglob
    logs=("$STATE"/*.log)
    if ((${#logs[@]} == 0)); then echo "no logs in $STATE: nothing was started" >&2; exit 1; fi
    tail -n 20 -F "${logs[@]}"
    ;;
  *) echo "usage: $0 [status|logs]" >&2; exit 2 ;;
esac
