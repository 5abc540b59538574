#!/usr/bin/env bash
# ZITADEL's official Python SDK (zitadel-client, pinned in tools.sh) against the local gateway
# and the function: tests/sdk/test_zitadel_client.py. Needs the stack's environment (run it
# under `scripts/stack.sh with`); starts the function and the gateway when they are not up.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
export TABLE_NAME="${TABLE_NAME:-passkeys-demo}"
PYTHON="$("$ROOT/scripts/tools.sh" python)/python"
SDK_PYTHON="$("$ROOT/scripts/tools.sh" zitadel-client)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

check_stack_up

export GATEWAY_URL="http://127.0.0.1:$(port_of gateway 18080)"
export TOKEN_COMMAND="$PYTHON $ROOT/scripts/local-gateway.py token"
"$SDK_PYTHON" -m unittest -v "$ROOT/tests/sdk/test_zitadel_client.py"
