#!/usr/bin/env bash
# The function under cargo-lambda's Lambda runtime emulator, on 127.0.0.1.
#
#   lambda.sh up        build, check the configuration, serve every binary (`cargo lambda watch`);
#                       a running function whose configuration changed is restarted
#   lambda.sh down      stop it (by PID)
#   lambda.sh running   exit 0 when it runs
#   lambda.sh invoke EVENT.json [FUNCTION]   send an event to FUNCTION (default: delivery-feedback
#                       for SES's events, as in events/ses/, else send-passkey-link); gives up after
#                       LAMBDA_INVOKE_TIMEOUT seconds (default 30) and shows the log's last lines
#
# The function's environment is $STATE/lambda.env (mode 0600: it holds AWS keys), written here
# from the stack's environment, the function's own variables when set, and the demo's defaults.
# RUST_LOG goes only there: in cargo-lambda's own environment it would make cargo-lambda log
# every byte it proxies (gigabytes a minute at trace).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${PASSKEY_STACK_DIR:-$ROOT/.stack}"
mkdir -p "$STATE"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# `up` starts the function, whose calls go to the endpoints it is given; invoke, down and
# running only talk to the local emulator (from a fresh shell too).
if [[ "${1:-}" == up ]]; then require_local_stack; fi

LAMBDA_PORT="$(port_of lambda 19000)"
INVOKE_TIMEOUT="${LAMBDA_INVOKE_TIMEOUT:-30}"
FUNCTION_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/send-passkey-link"
PATH="$("$ROOT/scripts/tools.sh" python):$PATH"

# The function's variables (src/config.rs VARIABLES) that have no demo default: passed when set.
PASSED=(LINK_LIFETIME_SECONDS ORG_CLAIM USER_CLAIM ROLE_PERMISSIONS
  RATE_LIMIT_WINDOW_SECONDS SES_CONFIGURATION_SET SES_TEMPLATE_NAME MAIL_DEPLOYMENT_TAG LOG_FORMAT SUPERSEDE_LINKS
  WEBAUTHN_RP_ID WEBAUTHN_RP_NAME WEBAUTHN_ORIGINS PASSKEY_CODE_MAX_ATTEMPTS
  PAGE_RATE_LIMIT_PER_CODE PAGE_EDGE_SECRET_SHA256 TEXT_ALLOWED_HOSTS)

ENTRIES=()
entry() { # NAME VALUE
  if [[ "$2" == *"'"* || "$2" == *$'\n'* ]]; then
    echo "lambda: $1 holds a single quote or a line break, which the env file cannot carry" >&2
    exit 1
  fi
  ENTRIES+=("$1=$2")
}

collect_env() {
  local name
  entry TABLE_NAME "${TABLE_NAME:?is not set}"
  if [[ -n "${MAIL_FROM:-}" ]]; then
    entry MAIL_FROM "$MAIL_FROM"
    [[ -z "${MAIL_FROM_NAME:-}" ]] || entry MAIL_FROM_NAME "$MAIL_FROM_NAME"
  else
    entry MAIL_FROM no-reply@demo.example
    entry MAIL_FROM_NAME "${MAIL_FROM_NAME:-Passkeys}"
  fi
  # The demo sends to the same few seeded users again and again: the production default
  # (5 per 15 minutes) would answer 429 after a handful of tries.
  entry RATE_LIMIT_LINKS "${RATE_LIMIT_LINKS:-100}"
  entry RUST_LOG "${RUST_LOG:-info}"
  # The link opens the function's own page through the local gateway; `localhost` (not
  # 127.0.0.1) because browsers allow WebAuthn on http only there. The RP id and origin
  # follow from it.
  local page="http://localhost:$(port_of gateway 18080)/ui/login/login/passwordless/init"
  page+='?userID={userID}&orgID={orgID}&codeID={codeID}&code={code}'
  entry LINK_URL_TEMPLATE "${LINK_URL_TEMPLATE:-$page}"
  # The page's per-address limit would stop the tests' many calls from 127.0.0.1.
  entry PAGE_RATE_LIMIT_PER_SOURCE "${PAGE_RATE_LIMIT_PER_SOURCE:-1000}"
  for name in "${PASSED[@]}"; do
    if [[ -n "${!name:-}" ]]; then entry "$name" "${!name}"; fi
  done
  for name in AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2 AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
    if [[ -z "${!name:-}" ]]; then echo "lambda: $name is not set: run under scripts/stack.sh" >&2; exit 1; fi
    entry "$name" "${!name}"
  done
  if [[ -n "${AWS_SESSION_TOKEN:-}" ]]; then entry AWS_SESSION_TOKEN "$AWS_SESSION_TOKEN"; fi
}

# Single quotes: the env file's parser takes their content literally ({, &, $ and \ included).
render_env() { local e; for e in "${ENTRIES[@]}"; do printf "%s='%s'\n" "${e%%=*}" "${e#*=}"; done; }

changed_names() { # OLD NEW (file contents): the names of the variables that differ, never values
  comm -3 <(sort <<<"$1") <(sort <<<"$2") | sed -e 's/^\t//' -e 's/=.*//' | sort -u | paste -sd ' ' -
}

up() {
  collect_env
  local wanted; wanted="$(render_env)"
  cd "$ROOT"
  step "building send-passkey-link" cargo build --manifest-path "$ROOT/Cargo.toml" --bin send-passkey-link
  # The function reads its configuration at cold start, and under the emulator a bad value
  # only shows as invocations that never answer: refuse it here, naming the variable.
  if ! env -i "${ENTRIES[@]}" "$FUNCTION_BIN" --check-config >/dev/null; then
    echo "lambda: not started: the configuration above is invalid" >&2
    exit 1
  fi
  if running lambda; then
    local current; current="$(cat "$STATE/lambda.env" 2>/dev/null || true)"
    if [[ "$current" == "$wanted" ]]; then
      echo "lambda: already running on 127.0.0.1:$LAMBDA_PORT (pid $(cat "$STATE/lambda.pid"))" >&2
      return 0
    fi
    echo "lambda: configuration changed ($(changed_names "$current" "$wanted")): restarting" >&2
    stop lambda
  fi
  rm -f "$STATE/lambda.env.new"
  (umask 077 && printf '%s\n' "$wanted" > "$STATE/lambda.env.new")
  mv -f "$STATE/lambda.env.new" "$STATE/lambda.env"
  start lambda "$LAMBDA_PORT" 60 env -u RUST_LOG cargo lambda watch --invoke-address 127.0.0.1 \
    --invoke-port "$LAMBDA_PORT" --ignore-changes --concurrency 4 --env-file "$STATE/lambda.env"
}

invoke() {
  local event; event="$(realpath "${1:?usage: lambda.sh invoke EVENT.json [FUNCTION]}")"
  local function="${2:-}"
  # SES's events (source aws.ses, as in events/ses/) are delivery-feedback's; the rest the API's.
  if [[ -z "$function" ]]; then
    function=send-passkey-link
    if python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("source") == "aws.ses" else 1)' \
      "$event" 2>/dev/null; then
      function=delivery-feedback
    fi
  fi
  if ! port_answers "$LAMBDA_PORT"; then
    echo "lambda: nothing answers on 127.0.0.1:$LAMBDA_PORT: start it with 'make dev'" >&2
    exit 1
  fi
  local status=0
  (cd "$ROOT" && timeout "$INVOKE_TIMEOUT" cargo lambda invoke --invoke-address 127.0.0.1 \
     --invoke-port "$LAMBDA_PORT" --data-file "$event" "$function") || status=$?
  if ((status == 124)); then
    echo "lambda: no answer from 127.0.0.1:$LAMBDA_PORT within $INVOKE_TIMEOUT s (LAMBDA_INVOKE_TIMEOUT)" >&2
  elif ((status != 0)) && [[ "$function" == delivery-feedback ]]; then
    echo "lambda: delivery-feedback refused the event (exit $status; its reason is above). Deployed," >&2
    echo "  Lambda retries such an event twice, then its dead-letter queue keeps it." >&2
  elif ((status != 0)); then
    echo "lambda: the invocation failed (exit $status)" >&2
  fi
  if ((status != 0)); then log_tail lambda; exit 1; fi
}

case "${1:-}" in
  up) up ;;
  running) running lambda ;;
  down) stop lambda ;;
  invoke) invoke "${2:-}" "${3:-}" ;;
  *) echo "usage: $0 up|down|running|invoke EVENT.json [FUNCTION]" >&2; exit 2 ;;
esac
