#!/usr/bin/env bash
# `sam local invoke` and `sam local start-api` on this machine with no image pulled
# (docs/sam-local.md). Needs root: it guards the stack with an iptables rule, and starts its own Docker
# engine when none runs.
#
#   sam-local.sh check   every events/ file through `sam local invoke`, then `start-api` with a
#                        token (scripts/sam-local-check.py); make sam-local, part of make test
#   sam-local.sh api     `sam local start-api` on 127.0.0.1:$SAM_API_PORT (default 3000), with
#                        the stack and the demo table, until Ctrl-C
#   sam-local.sh invoke EVENT_FILE...   `sam local invoke` with each file, on the demo table
#
# SAM_LOCAL_ARCH=arm64|x86_64 (default: the host's): the function's architecture; arm64 on an
# x86_64 host runs under qemu-user-static through binfmt_misc.
#
# What it does, and undoes on exit (also after a failure or Ctrl-C), so the machine is left as
# it was found:
# - installs Debian's docker.io (and qemu-user-static for a foreign architecture): the archive's
#   current build, within scripts/tools.sh's range;
# - starts dockerd by PID (its data in the tool cache, so built images are kept; its socket in
#   $SAM_LOCAL_RUN_DIR) with --userland-proxy=false (with the proxy SAM sometimes gets no answer
#   from a container that is still starting), and stops it; removes the docker0 bridge if it made
#   it, and the iptables rules and chains dockerd added, puts the FORWARD policy and
#   net.ipv4.ip_forward and br_netfilter's net.bridge.bridge-nf-* switches back; what it changed
#   is recorded in $SAM_LOCAL_RUN_DIR, so a run that was killed outright is undone by the next;
# - builds the base image SAM layers its runtime emulator onto,
#   public.ecr.aws/lambda/provided:al2023-ARCH, from Debian packages (scripts/tools.sh sam-base),
#   since no registry is reachable: hence always --skip-pull-image;
# - for arm64: mounts binfmt_misc and registers qemu-aarch64 if they are not, and undoes that;
# - runs the local stack on the Docker bridge's gateway address (containers cannot reach the
#   host's 127.0.0.1; SAM's --docker-network host does not change that), in its own state folder
#   and ports (SAM_DYNAMODB_PORT, SAM_SES_PORT), reachable only from the bridge and the host
#   itself (an iptables rule while it runs, whichever engine it uses), and stops it.
# With DOCKER_HOST set, or an engine answering at /var/run/docker.sock, that engine is used as it
# is: nothing is started or stopped there, and a base image it already has (AWS's own, say) is not
# replaced (one built here stays in its image store); the firewall rule is added and removed all
# the same.
# One make sam-local at a time per machine (the engine's bridge and firewall rules are the
# machine's): a second waits for the first, up to 15 minutes ($SAM_LOCAL_LOCK_FILE).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MODE="${1:-}"
case "$MODE" in
  check | api | __inner-check | __inner-api | __inner-invoke) ;;
  invoke)
    [[ $# -ge 2 ]] || { echo "usage: $0 invoke EVENT_FILE..." >&2; exit 2; }
    for file in "${@:2}"; do [[ -f "$file" ]] || { echo "sam-local: no event file $file" >&2; exit 2; }; done
    ;;
  *) echo "usage: $0 check | api | invoke EVENT_FILE..." >&2; exit 2 ;;
esac

TOOLS_DIR="${PASSKEY_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/send-passkey-link}"
# The local gateway's signing key stays make dev's (.stack/jwt-key.pem): its tokens work here too.
export PASSKEY_KEY_DIR="${PASSKEY_KEY_DIR:-${PASSKEY_STACK_DIR:-$ROOT/.stack}}"
# The engine's socket, PID and state, and the record of what this script changed on the machine
# (so that the next run undoes what an interrupted one left): a short absolute path (socket paths
# are limited to 108 bytes), holding only this script's files.
RUN_DIR="${SAM_LOCAL_RUN_DIR:-/run/passkey-sam-local}"
if [[ "$RUN_DIR" != /?* || "$RUN_DIR" == *//* || "$RUN_DIR" == */ || "/$RUN_DIR/" == */../* || ${#RUN_DIR} -gt 60 ]]; then
  echo "sam-local: SAM_LOCAL_RUN_DIR must be an absolute path of at most 60 characters, without" \
    "'..', '//' or a trailing '/', not '$RUN_DIR'" >&2
  exit 2
fi
MARK="$RUN_DIR/.passkey-sam-local"
LOCK_FILE="${SAM_LOCAL_LOCK_FILE:-/run/lock/passkey-sam-local.lock}"
export PASSKEY_STACK_DIR="${PASSKEY_SAM_LOCAL_DIR:-$ROOT/.stack/sam-local}"
export DYNAMODB_PORT="${SAM_DYNAMODB_PORT:-18100}" SES_PORT="${SAM_SES_PORT:-18105}"
ENGINE_LOG="$PASSKEY_STACK_DIR/dockerd.log"
case "$(uname -m)" in
  x86_64) HOST_ARCH=x86_64 ;;
  aarch64 | arm64) HOST_ARCH=arm64 ;;
  *) echo "sam-local: no Lambda architecture for this host's $(uname -m)" >&2; exit 1 ;;
esac
ARCH="${SAM_LOCAL_ARCH:-$HOST_ARCH}"
case "$ARCH" in
  "$HOST_ARCH") ;;
  arm64) ;; # under qemu
  *) echo "sam-local: SAM_LOCAL_ARCH must be arm64 or $HOST_ARCH, not '$ARCH'" >&2; exit 2 ;;
esac
# Always this script's own stack on the bridge: containers cannot reach endpoints on the host's
# loopback (a terminal that ran `eval "$(scripts/stack.sh env)"`, say), and a check must not
# create its tables in whatever AWS account the environment names.
if [[ "$MODE" != __inner-* ]]; then unset AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SESV2 MAILBOX_URL; fi
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# The inner modes run passkey-admin and SAM on the stack the outer one started (on STACK_HOST).
if [[ "$MODE" == __inner-* ]]; then require_local_stack sam-local; fi
PYTHON_TOOLS="$("$ROOT/scripts/tools.sh" python)"
export PATH="$PYTHON_TOOLS:$PATH" SAM_CLI_TELEMETRY=0
# SAM asks STS for the account id before every invoke; with no route to AWS that takes ~10 s of
# retries. A closed local port refuses at once (SAM then uses its default account id).
export AWS_ENDPOINT_URL_STS=http://127.0.0.1:9

# ---- the engine, binfmt, the firewall, and their undoing (outer modes) ----

# shellcheck source=scripts/sam-local-machine.sh
source "$ROOT/scripts/sam-local-machine.sh"

# public.ecr.aws/lambda/provided:al2023-ARCH, built from scripts/tools.sh sam-base's root file
# system; labelled with that folder's name (a hash of the package builds it holds), so other
# builds rebuild it.
base_image() { # ARCH
  local arch="$1" dir tag platform have
  tag="public.ecr.aws/lambda/provided:al2023-$arch"
  platform="linux/$([[ "$arch" == arm64 ]] && echo arm64 || echo amd64)"
  dir="$("$ROOT/scripts/tools.sh" sam-base "$arch")"
  if have="$(docker image inspect "$tag" --format '{{index .Config.Labels "passkey.base"}}' 2>/dev/null)"; then
    [[ "$have" == "$(basename "$dir")" ]] && return
    if [[ ! -f "$RUN_DIR/engine.pid" && -z "$have" ]]; then
      echo "sam-local: using the engine's own $tag" >&2
      return
    fi
  fi
  step "building $tag from Debian packages" quietly \
    docker build --quiet --platform "$platform" --label "passkey.base=$(basename "$dir")" -t "$tag" "$dir"
}

quietly() { # COMMAND...: its output only when it fails (docker build warns that it is legacy)
  local out
  out="$("$@" 2>&1)" || { echo "$out" >&2; return 1; }
}

outer() {
  # One run at a time (the engine, its bridge and the stack's ports); a second waits its turn.
  # Appended to, never truncated, and never through a link (root opens it in a shared folder).
  [[ ! -L "$LOCK_FILE" ]] || { echo "sam-local: $LOCK_FILE is a symbolic link; remove it" >&2; exit 1; }
  mkdir -p "$(dirname "$LOCK_FILE")"
  exec 7>>"$LOCK_FILE"
  if ! flock -n 7; then
    echo "sam-local: another make sam-local is running; waiting for it (at most 15 minutes)" >&2
    flock -w 900 7 || { echo "sam-local: another make sam-local still runs after 15 minutes" >&2; exit 1; }
  fi
  trap restore_machine EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  run_dir_up
  engine_up
  binfmt_up
  base_image "$ARCH"
  [[ "$ARCH" == "$HOST_ARCH" ]] || base_image "$HOST_ARCH"
  local gateway
  gateway="$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}')"
  # dockerd 20.10 leaves the default bridge's gateway out of IPAM: it is docker0's address.
  [[ -n "$gateway" ]] || gateway="$(ip -4 -o addr show docker0 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')"
  [[ -n "$gateway" ]] || { echo "sam-local: the engine's bridge network has no gateway address" >&2; exit 1; }
  guard_stack "$gateway"
  local files=() file
  for file in "${@:2}"; do files+=("$(realpath "$file")"); done
  # In a session of its own, so that Ctrl-C or TERM here undoes everything at once (a shell
  # runs its traps only after its foreground command ends), and without the lock's descriptor.
  STACK_HOST="$gateway" setsid "$ROOT/scripts/stack.sh" with "$0" "__inner-$MODE" "${files[@]}" 7>&- &
  INNER=$!
  echo "$INNER" > "$RUN_DIR/inner.pid"
  wait "$INNER"
}

# ---- inside the stack (its endpoints in the environment) ----

# The bootstraps: the functions for ARCH (debug builds, as make dev runs; the host's own
# target shares make test's build), the authorizer for the host.
bootstraps() {
  local target="${CARGO_TARGET_DIR:-$ROOT/target}" code="$PASSKEY_STACK_DIR/code" function
  step "building send-passkey-link, delivery-feedback, local-authorizer and passkey-admin" \
    cargo build --manifest-path "$ROOT/Cargo.toml" --bin send-passkey-link --bin delivery-feedback \
    --bin local-authorizer --bin passkey-admin
  mkdir -p "$code/send-passkey-link" "$code/delivery-feedback" "$code/local-authorizer"
  # Copies, not links: the folders are mounted into the containers.
  if [[ "$ARCH" == "$HOST_ARCH" ]]; then
    for function in send-passkey-link delivery-feedback; do
      cp "$target/debug/$function" "$code/$function/bootstrap"
    done
  else
    rustup target add aarch64-unknown-linux-gnu >/dev/null
    step "building send-passkey-link and delivery-feedback for arm64 (cargo lambda, zig)" \
      cargo lambda build --manifest-path "$ROOT/Cargo.toml" --arm64 --bin send-passkey-link \
      --bin delivery-feedback --lambda-dir "$code"
  fi
  cp "$target/debug/local-authorizer" "$code/local-authorizer/bootstrap"
  PASSKEY_ADMIN="$target/debug/passkey-admin"
}

local_template() { # TABLE
  local page="http://localhost:${SAM_API_PORT}/ui/login/login/passwordless/init"
  page+='?userID={userID}&orgID={orgID}&codeID={codeID}&code={code}'
  TEMPLATE="$PASSKEY_STACK_DIR/template.yaml"
  "$PYTHON_TOOLS/python" "$ROOT/scripts/sam-local-template.py" "$TEMPLATE" --arch "$ARCH" \
    --authorizer-arch "$HOST_ARCH" --function-code "$PASSKEY_STACK_DIR/code/send-passkey-link" \
    --authorizer-code "$PASSKEY_STACK_DIR/code/local-authorizer" \
    --feedback-code "$PASSKEY_STACK_DIR/code/delivery-feedback" --dynamodb "$AWS_ENDPOINT_URL_DYNAMODB" \
    --ses "$AWS_ENDPOINT_URL_SESV2" --table "$1" \
    --public-key "$(PASSKEY_STACK_DIR="$PASSKEY_KEY_DIR" "$PYTHON_TOOLS/python" "$ROOT/scripts/local-gateway.py" public-key)" \
    --link-url-template "$page"
}

inner_check() {
  export SAM_API_PORT="${SAM_API_PORT:-18300}"
  bootstraps
  local_template unused
  export PASSKEY_ADMIN TABLE_PREFIX="sam-local-$(date +%s)" SAM_API_LOG="$PASSKEY_STACK_DIR/start-api.log"
  echo "sam-local: $ARCH function, template $TEMPLATE, stack on ${STACK_HOST}" >&2
  "$PYTHON_TOOLS/python" "$ROOT/scripts/sam-local-check.py" "$TEMPLATE"
}

# The demo table (make dev's name), the bootstraps and the template for it.
demo_ready() {
  export SAM_API_PORT="${SAM_API_PORT:-3000}" TABLE_NAME="${TABLE_NAME:-passkeys-demo}"
  bootstraps
  "$PASSKEY_ADMIN" create-table >/dev/null
  "$PASSKEY_ADMIN" seed "$ROOT/seed/demo.json" >/dev/null
  local_template "$TABLE_NAME"
}

inner_invoke() {
  demo_ready
  local file function
  for file in "$@"; do
    # SES's events (events/ses/) go to the delivery-feedback function, the rest to the API's.
    function=Function
    [[ "$(basename "$(dirname "$file")")" == ses ]] && function=DeliveryFeedbackFunction
    echo "== sam local invoke $function --event $file" >&2
    sam local invoke "$function" --template-file "$TEMPLATE" --skip-pull-image --event "$file"
    echo
  done
  echo "(the stack, its mailbox included, stops now; make sam-api keeps them up)" >&2
}

inner_api() {
  demo_ready
  cat >&2 <<EOF
sam-local: $ARCH function; template $TEMPLATE; table $TABLE_NAME; mailbox $MAILBOX_URL/
  token:  TOKEN=\$(scripts/gateway.sh token 100000000000000010 100000000000000001)   (as for make dev)
  call:   curl -s -X POST -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{}' \\
            http://127.0.0.1:$SAM_API_PORT/management/v1/users/100000000000000011/passwordless/_send_link
Ctrl-C stops start-api, the stack and the engine.
EOF
  sam local start-api --template-file "$TEMPLATE" --skip-pull-image --host 127.0.0.1 --port "$SAM_API_PORT"
}

case "$MODE" in
  check | api | invoke) outer "$@" ;;
  __inner-check) inner_check ;;
  __inner-api) inner_api ;;
  __inner-invoke) inner_invoke "${@:2}" ;;
esac
