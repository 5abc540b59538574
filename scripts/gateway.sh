#!/usr/bin/env bash
# The local JWT gateway (scripts/local-gateway.py) on 127.0.0.1:$GATEWAY_PORT, by PID.
#   gateway.sh up | down | token SUB ORG | token NAME   (NAME: a demo user, scripts/demo_users.py)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

usage() {
  echo "usage: $0 up | down | token SUB ORG | token NAME   (token: prints a bearer token for user id SUB," >&2
  echo "  org claim ORG; or for the demo user NAME of seed/demo.json: ada, alice, hal, bob, root, ...)" >&2
  exit 2
}
# Arguments first: a wrong call is told so at once, before any tool is looked up or installed.
case "${1:-}" in
  up | down) ;;
  token)
    if [[ $# -eq 2 ]]; then
      # An unknown name exits 2 here, listing the names.
      IDS="$(python3 "$ROOT/scripts/demo_users.py" "$2")"
      read -r SUB ORG <<<"$IDS"
      set -- token "$SUB" "$ORG"
    fi
    [[ $# -eq 3 ]] || usage
    ;;
  *) usage ;;
esac

STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
PYTHON="$("$ROOT/scripts/tools.sh" python)/python"
mkdir -p "$STATE"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# The running stack's recorded ports, so a new terminal without the variables finds it.
GATEWAY_PORT="$(port_of gateway 18080)"
LAMBDA_URL="http://127.0.0.1:$(port_of lambda 19000)"

case "$1" in
  up) start gateway "$GATEWAY_PORT" 10 "$PYTHON" "$ROOT/scripts/local-gateway.py" serve --port "$GATEWAY_PORT" \
        --lambda-url "$LAMBDA_URL" || true ;;
  down) stop gateway ;;
  token) "$PYTHON" "$ROOT/scripts/local-gateway.py" token --sub "$2" --org "$3" ;;
esac
