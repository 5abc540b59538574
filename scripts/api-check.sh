#!/usr/bin/env bash
# Property-based API test: schemathesis generates requests from docs/openapi.yaml and sends
# them through the local gateway (JWT checked) to the function under cargo-lambda, against
# the demo table. Bounded and seeded so a CI run is repeatable. Needs the stack's environment
# (run it under `scripts/stack.sh with`).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
require_local_stack
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
export TABLE_NAME="${TABLE_NAME:-passkeys-demo}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-20}"
PYTHON="$("$ROOT/scripts/tools.sh" python)/python"
SCHEMATHESIS="$("$ROOT/scripts/tools.sh" schemathesis)"

check_stack_up
GATEWAY_PORT="$(port_of gateway 18080)"

# schemathesis as `$1` (user id) of `$2` (org), on the operations the rest selects.
run_as() {
  local token
  token="$("$PYTHON" "$ROOT/scripts/local-gateway.py" token --sub "$1" --org "$2")"
  shift 2
  "$SCHEMATHESIS" run "$ROOT/docs/openapi.yaml" --url "http://127.0.0.1:$GATEWAY_PORT" \
    --header "Authorization: Bearer $token" \
    --checks all --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" --seed 20261124 --generation-database none \
    --workers 1 --request-timeout 30 --no-color --report junit --report-dir "$STATE/schemathesis" "$@"
}

cd "$STATE"
# The demo org's owner: positive examples reach a real user, negative ones every error path.
run_as 100000000000000010 100000000000000001 --exclude-path-regex '^/(admin/|zitadel\.admin\.)'
# The admin text API needs an instance role: the instance owner.
run_as 300000000000000010 300000000000000001 --include-path-regex '^/(admin/|zitadel\.admin\.)'
