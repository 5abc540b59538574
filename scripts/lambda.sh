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

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

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
  if running lambda; then echo "lambda: already running on 127.0.0.1:$LAMBDA_PORT" >&2; return 0; fi
  write_env
  cd "$ROOT"
  start lambda "$LAMBDA_PORT" 60 cargo lambda watch --invoke-address 127.0.0.1 \
    --invoke-port "$LAMBDA_PORT" --ignore-changes --concurrency 4 --env-file "$STATE/lambda.env"
}

case "${1:-}" in
  up) up ;;
  running) running lambda ;;
  down) stop lambda ;;
  invoke)
    # The first invocation waits for the build; the emulator's own timeout covers it.
    (cd "$ROOT" && cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port "$LAMBDA_PORT" \
       --data-file "${2:?event file}" send-passkey-link)
    ;;
  *) echo "usage: $0 up|down|invoke EVENT.json" >&2; exit 2 ;;
esac
