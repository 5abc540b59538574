#!/usr/bin/env bash
# ZITADEL's official SDKs against the local gateway and the function: Python's zitadel-client
# (pinned in tools.sh; tests/sdk/test_zitadel_client.py, and tests/sdk/test_passkey_journey.py:
# the passkey journey with soft-webauthn as the authenticator) and Node's @zitadel/client (pinned by
# tests/sdk/node/package-lock.json; tests/sdk/node/zitadel-client.test.mjs). Needs the stack's
# environment (run it under `scripts/stack.sh with`); starts the function and the gateway when
# they are not up.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
require_local_stack
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
export TABLE_NAME="${TABLE_NAME:-passkeys-demo}"
PYTHON="$("$ROOT/scripts/tools.sh" python)/python"
SDK_PYTHON="$("$ROOT/scripts/tools.sh" zitadel-client)"
SDK_NODE="$("$ROOT/scripts/tools.sh" zitadel-client-node)"

check_stack_up

export GATEWAY_URL="http://127.0.0.1:$(port_of gateway 18080)"
export TOKEN_COMMAND="$PYTHON $ROOT/scripts/local-gateway.py token"
"$SDK_PYTHON" -B -m unittest -v "$ROOT/tests/sdk/test_zitadel_client.py" "$ROOT/tests/sdk/test_passkey_journey.py"
# Node resolves an ES module's imports from where the file is: the test runs beside its
# node_modules, a copy refreshed each run.
cp "$ROOT/tests/sdk/node/zitadel-client.test.mjs" "$SDK_NODE/"
node --test "$SDK_NODE/zitadel-client.test.mjs"
