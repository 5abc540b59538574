#!/usr/bin/env bash
# The local JWT gateway (scripts/local-gateway.py) on 127.0.0.1:$GATEWAY_PORT, by PID.
#   gateway.sh up | down | token SUB ORG
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
GATEWAY_PORT="${GATEWAY_PORT:-18080}"
PYTHON="$("$ROOT/scripts/tools.sh" python)/python"
mkdir -p "$STATE"
port_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() { [[ -f "$STATE/gateway.pid" ]] && kill -0 "$(cat "$STATE/gateway.pid")" 2>/dev/null; }

case "${1:-}" in
  up)
    if running; then exit 0; fi
    if port_answers "$GATEWAY_PORT"; then echo "gateway: port $GATEWAY_PORT is taken; set GATEWAY_PORT" >&2; exit 1; fi
    setsid "$PYTHON" "$ROOT/scripts/local-gateway.py" serve --port "$GATEWAY_PORT" \
      > "$STATE/gateway.log" 2>&1 < /dev/null &
    echo $! > "$STATE/gateway.pid"
    for _ in $(seq 1 100); do
      if port_answers "$GATEWAY_PORT"; then echo "gateway: up on http://127.0.0.1:$GATEWAY_PORT" >&2; exit 0; fi
      sleep 0.1
    done
    echo "gateway: did not start; its log:" >&2; cat "$STATE/gateway.log" >&2; exit 1 ;;
  down)
    [[ -f "$STATE/gateway.pid" ]] || exit 0
    pid="$(cat "$STATE/gateway.pid")"
    kill -TERM -- "-$pid" 2>/dev/null || true
    rm -f "$STATE/gateway.pid"
    echo "gateway: stopped (pid $pid)" >&2 ;;
  token) "$PYTHON" "$ROOT/scripts/local-gateway.py" token --sub "${2:?sub}" --org "${3:?org}" ;;
  *) echo "usage: $0 up|down|token SUB ORG" >&2; exit 2 ;;
esac
