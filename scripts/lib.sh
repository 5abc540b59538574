# Sourced by the stack scripts. Each local process runs in its own session (so stopping its
# process group stops its children), is tracked by a PID file in $STATE, and is stopped by
# that PID, never by name. Its port is recorded beside the PID file, so a new terminal (or
# any script) finds the running stack without being told its ports again.

# STACK_HOST: the address the stack's processes listen on (make sam-local: the Docker bridge's).
port_answers() { (exec 3<>"/dev/tcp/${STACK_HOST:-127.0.0.1}/$1") 2>/dev/null; }

# A private or loopback IPv4 address (a Docker bridge's gateway is one): what STACK_HOST may be.
private_ipv4() {
  local IFS=. a b c d
  [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  read -r a b c d <<<"$1"
  ((a <= 255 && b <= 255 && c <= 255 && d <= 255)) || return 1
  ((a == 10 || a == 127 || (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168)))
}

# Refuses to go on (exit 1) unless AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SESV2 name
# the local stack: 127.0.0.1, localhost, ::1 or STACK_HOST (a private or loopback IPv4 address).
# Without them the SDKs, the function and passkey-admin reach whatever AWS account this machine's
# credentials name (CreateTable included). Every script that makes AWS calls runs it first,
# before any tool is looked up. The SDKs also skip the endpoint variables when told to
# (AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, or ignore_configured_endpoint_urls in a profile): that
# is refused, and from here on no profile is read and the credentials are the stack's dummies,
# so a call that got past the endpoints anyway could not sign in to an account.
require_local_stack() { # [NAME]: the script's name for the message (default: $0's)
  local who="${1:-$(basename "$0" .sh)}" name url host problem=""
  if [[ -n "${STACK_HOST:-}" ]] && ! private_ipv4 "$STACK_HOST"; then
    problem="STACK_HOST is $STACK_HOST, not a private or loopback IPv4 address"
  fi
  case "${AWS_IGNORE_CONFIGURED_ENDPOINT_URLS:-false}" in
    false | False | FALSE) ;;
    *) problem="AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is $AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: the SDKs would skip the endpoints" ;;
  esac
  for name in AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2; do
    [[ -z "$problem" ]] || break
    url="${!name:-}"
    if [[ -z "$url" ]]; then problem="$name is not set"; break; fi
    # The authority ends at the first /, ? or #: a `#@127.0.0.1` after a remote host must
    # not pass for the host.
    host="${url#*://}"
    host="${host%%[/?#]*}"
    host="${host##*@}"
    if [[ "$host" == \[* ]]; then host="${host%%]*}]"; else host="${host%%:*}"; fi
    case "$host" in
      127.0.0.1 | localhost | "[::1]" | "${STACK_HOST:-127.0.0.1}") ;;
      *) problem="$name is $url, not the local stack (127.0.0.1, localhost${STACK_HOST:+ or $STACK_HOST})"; break ;;
    esac
  done
  if [[ -z "$problem" ]]; then
    export AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION="${AWS_REGION:-us-east-1}"
    unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
    return 0
  fi
  cat >&2 <<EOF
$who: refusing to run: $problem, so its AWS calls could reach a real AWS account.
  Run it on the local stack: through make (make test, make run, make dev), or in a shell
  that has the stack's environment:
    scripts/stack.sh up && eval "\$(scripts/stack.sh env)"
  (scripts/stack.sh with COMMAND... runs one command so, stopping the stack after it).
EOF
  exit 1
}

running() { # NAME: its PID file names a live process
  local pid_file="$STATE/$1.pid" pid
  [[ -f "$pid_file" ]] || return 1
  pid="$(cat "$pid_file")"
  # An exited process its new parent has not reaped yet (a zombie) still answers kill -0.
  kill -0 "$pid" 2>/dev/null && [[ "$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]]
}

port_of() { # NAME DEFAULT: the port NAME runs on, else ${NAME}_PORT, else DEFAULT
  local recorded="$STATE/$1.port" variable="${1^^}_PORT"
  if running "$1" && [[ -f "$recorded" ]]; then
    cat "$recorded"
  else
    echo "${!variable:-$2}"
  fi
}

start() { # NAME PORT SECONDS COMMAND...: start, wait until PORT answers; 1 when already running
  local name="$1" port="$2" seconds="$3"; shift 3
  if running "$name"; then return 1; fi
  if port_answers "$port"; then
    echo "$name: port $port is taken by a process these scripts did not start; set ${name^^}_PORT or stop it" >&2
    exit 1
  fi
  setsid "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
  echo "$port" > "$STATE/$name.port"
  local tries=$((seconds * 20))
  for _ in $(seq 1 "$tries"); do
    if port_answers "$port"; then echo "$name: up on ${STACK_HOST:-127.0.0.1}:$port (pid $(cat "$STATE/$name.pid"))" >&2; return 0; fi
    if ! running "$name"; then echo "$name: exited; its log:" >&2; cat "$STATE/$name.log" >&2; exit 1; fi
    sleep 0.05
  done
  echo "$name: no answer on port $port within $seconds s; its log:" >&2; cat "$STATE/$name.log" >&2
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
    echo "$1: stopped (pid $pid)" >&2
  fi
  rm -f "$pid_file" "$STATE/$1.port"
}

log_tail() { # NAME: the last lines of NAME's log, to stderr
  echo "-- last lines of $STATE/$1.log:" >&2
  tail -n "${2:-20}" "$STATE/$1.log" >&2 2>/dev/null || echo "(no log)" >&2
}

step() { # LABEL COMMAND...: run a long step, saying what it is and how long it took
  local label="$1" began=$SECONDS; shift
  echo "== $label ..." >&2
  "$@"
  echo "== $label: done in $((SECONDS - began)) s" >&2
}

# The demo table ($TABLE_NAME) created and seeded, both binaries built first in one cargo call
# (they share the library). Needs ROOT and the stack's environment.
demo_table() {
  require_local_stack
  local admin="${CARGO_TARGET_DIR:-$ROOT/target}/debug/passkey-admin" label="building passkey-admin and the functions"
  # Only a first build takes minutes; saying so on every run would cry wolf.
  [[ -x "$admin" ]] || label+=" (a first build: minutes, see README)"
  step "$label" cargo build --manifest-path "$ROOT/Cargo.toml" --bin passkey-admin --bin send-passkey-link \
    --bin delivery-feedback
  "$admin" create-table
  "$admin" seed "$ROOT/seed/demo.json"
}

# The demo table, the function and the gateway up for a check (api-check.sh, sdk-check.sh);
# what was not already running is stopped when the script exits. Needs ROOT and STATE.
check_stack_up() {
  STOP_AT_EXIT=()
  trap 'for part in "${STOP_AT_EXIT[@]}"; do "$ROOT/scripts/$part.sh" down; done' EXIT
  demo_table >/dev/null
  if ! "$ROOT/scripts/lambda.sh" running; then STOP_AT_EXIT+=(lambda); fi
  "$ROOT/scripts/lambda.sh" up
  if ! running gateway; then STOP_AT_EXIT+=(gateway); fi
  "$ROOT/scripts/gateway.sh" up
}

# What make bench, bench-peer and bench-size share, with ROOT set and before anything starts:
# their own stack (state dir and ports), BENCH_CALLS checked into CALLS, the lock (they share
# the emulators' instance ports 19400-19531), AWS's runtime emulator from the SAM CLI wheel in
# RIE, PYTHON_TOOLS, and the function's configuration for the emulator's environment.
bench_setup() { # NAME DYNAMODB_PORT SES_PORT DEFAULT_CALLS
  local name="$1"
  # Always a stack of its own (stack.sh with starts it): endpoints from the environment, an
  # AWS account's included, are never benchmarked.
  unset AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2 MAILBOX_URL
  export PASSKEY_STACK_DIR="${PASSKEY_BENCH_DIR:-$ROOT/.stack/$name}"
  export DYNAMODB_PORT="${BENCH_DYNAMODB_PORT:-$2}" SES_PORT="${BENCH_SES_PORT:-$3}"
  CALLS="${BENCH_CALLS:-$4}"
  [[ "$CALLS" =~ ^[1-9][0-9]{0,5}$ ]] || { echo "$name: BENCH_CALLS must be a whole number from 1 to 999999, not '$CALLS'" >&2; exit 2; }
  mkdir -p "$PASSKEY_STACK_DIR"
  exec 8>"$ROOT/.stack/bench.lock"
  flock -n 8 || { echo "$name: another make bench, bench-peer or bench-size is running (.stack/bench.lock)" >&2; exit 1; }
  # The harness's CPU-quota cgroups (examples/bench/cpu_limit.rs) outlive it when it is
  # interrupted; once their processes are gone they are empty and rmdir removes them. Set only
  # with the lock held, so a bench the lock refuses cannot touch a running one's.
  trap 'rmdir /sys/fs/cgroup/passkey-bench-* /sys/fs/cgroup/cpu/passkey-bench-* 2>/dev/null || true' EXIT
  PYTHON_TOOLS="$("$ROOT/scripts/tools.sh" python)"
  RIE="$(ls "$PYTHON_TOOLS"/../lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-"$(uname -m)" 2>/dev/null || true)"
  [[ -x "$RIE" ]] || { echo "$name: no aws-lambda-rie for $(uname -m) in the SAM CLI wheel" >&2; exit 1; }
  TABLE_NAME="$name-$(date +%s)"
  export TABLE_NAME MAIL_FROM="Bench <no-reply@bench.example>" RATE_LIMIT_LINKS=100 RUST_LOG=info \
    LINK_URL_TEMPLATE='https://bench.example/ui/login/login/passwordless/init?userID={userID}&orgID={orgID}&codeID={codeID}&code={code}'
}
