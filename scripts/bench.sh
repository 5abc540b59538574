#!/usr/bin/env bash
# make bench: the release function under AWS's runtime interface emulator (aws-lambda-rie, from
# the pinned SAM CLI wheel) against the local emulators, interleaved call by call with the
# floor (the same AWS calls made directly with the Rust SDK: examples/bench/), cold starts,
# CPU per call and peak RSS of the function's process; then docs/benchmarks.md and
# docs/benchmarks.png (scripts/bench-report.py). A stack of its own (ports and state dir below),
# so it runs beside `make dev`. Not part of `make test`: no timing is asserted anywhere.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bench_setup bench 18300 18305 500
PLOT_PYTHON="$("$ROOT/scripts/tools.sh" matplotlib)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

# Each run's results are kept for the document's "Across runs" table as TIME-COMMIT.json, the
# commit read before the build ("+" when the tree had changes outside docs/, which benches write).
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD -- . ':!docs' 2>/dev/null || commit="$commit+"
step "release build (the shipped profile: opt-level s, fat lto, one codegen unit)" \
  cargo build --locked --release --manifest-path "$ROOT/Cargo.toml" --bin send-passkey-link --example bench --example echo
RESULTS="$PASSKEY_STACK_DIR/results.json"
"$ROOT/scripts/stack.sh" with bash -c '
  "$0" --rie "$1" --bootstrap "$2" --echo "$(dirname "$0")/echo" --table "$TABLE_NAME" --calls "$3" --out "$4" \
    --dynamodb-pid "$(cat "$PASSKEY_STACK_DIR/dynamodb.pid")" --ses-pid "$(cat "$PASSKEY_STACK_DIR/ses.pid")"
' "$TARGET/release/examples/bench" "$RIE" "$TARGET/release/send-passkey-link" "$CALLS" "$RESULTS"

mkdir -p "$PASSKEY_STACK_DIR/runs"
cp "$RESULTS" "$PASSKEY_STACK_DIR/runs/$(date -u +%Y%m%dT%H%M%S)-$commit.json"
"$PLOT_PYTHON" -B "$ROOT/scripts/bench-report.py" "$RESULTS" "$TARGET/release/send-passkey-link" \
  "$ROOT/docs/benchmarks.md" "$ROOT/docs/benchmarks.png" "$PASSKEY_STACK_DIR/runs"
