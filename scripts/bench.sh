#!/usr/bin/env bash
# make bench: the release function under AWS's runtime interface emulator (aws-lambda-rie, from
# the pinned SAM CLI wheel) against the local emulators, interleaved call by call with the
# floor (the same AWS calls made directly with the Rust SDK: examples/bench/), cold starts,
# CPU per call and peak RSS of the function's process; then docs/benchmarks.md and
# docs/benchmarks.png (scripts/bench-report.py). A stack of its own (ports and state dir below),
# so it runs beside `make dev`. Not part of `make test`: no timing is asserted anywhere.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PASSKEY_STACK_DIR="${PASSKEY_BENCH_DIR:-$ROOT/.stack/bench}"
export DYNAMODB_PORT="${BENCH_DYNAMODB_PORT:-18300}" SES_PORT="${BENCH_SES_PORT:-18305}"
CALLS="${BENCH_CALLS:-500}"
[[ "$CALLS" =~ ^[1-9][0-9]{0,5}$ ]] || { echo "${0##*/}: BENCH_CALLS must be a whole number from 1 to 999999, not '$CALLS'" >&2; exit 2; }
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
mkdir -p "$PASSKEY_STACK_DIR"
# The benches share the emulators' ports (19400-19531): one at a time.
exec 8>"$ROOT/.stack/bench.lock"
flock -n 8 || { echo "${0##*/}: another make bench, bench-peer or bench-size is running (.stack/bench.lock)" >&2; exit 1; }

PYTHON_TOOLS="$("$ROOT/scripts/tools.sh" python)"
RIE="$(ls "$PYTHON_TOOLS"/../lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-"$(uname -m)" 2>/dev/null || true)"
[[ -x "$RIE" ]] || { echo "bench: no aws-lambda-rie for $(uname -m) in the SAM CLI wheel" >&2; exit 1; }
PLOT_PYTHON="$("$ROOT/scripts/tools.sh" matplotlib)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

step "release build (the shipped profile: fat lto, one codegen unit)" \
  cargo build --locked --release --manifest-path "$ROOT/Cargo.toml" --bin send-passkey-link --example bench --example echo
RESULTS="$PASSKEY_STACK_DIR/results.json"
# The function's configuration, passed to it through the emulator's environment.
export TABLE_NAME="bench-$(date +%s)" MAIL_FROM="Bench <no-reply@bench.example>" RATE_LIMIT_LINKS=100 \
  RUST_LOG=warn LINK_URL_TEMPLATE='https://bench.example/ui/login/login/passwordless/init?userID={userID}&orgID={orgID}&codeID={codeID}&code={code}'
"$ROOT/scripts/stack.sh" with bash -c '
  "$0" --rie "$1" --bootstrap "$2" --echo "$(dirname "$0")/echo" --table "$TABLE_NAME" --calls "$3" --out "$4" \
    --dynamodb-pid "$(cat "$PASSKEY_STACK_DIR/dynamodb.pid")" --ses-pid "$(cat "$PASSKEY_STACK_DIR/ses.pid")"
' "$TARGET/release/examples/bench" "$RIE" "$TARGET/release/send-passkey-link" "$CALLS" "$RESULTS"

"$PLOT_PYTHON" -B "$ROOT/scripts/bench-report.py" "$RESULTS" "$TARGET/release/send-passkey-link" \
  "$ROOT/docs/benchmarks.md" "$ROOT/docs/benchmarks.png"
