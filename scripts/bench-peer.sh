#!/usr/bin/env bash
# make bench-peer: the function (release, under AWS's runtime emulator, one emulator per
# instance) against Keycloak's "execute-actions-email" with webauthn-register-passwordless
# (scripts/peer.sh: Keycloak from Maven Central on JDK 25, start-dev, an SMTP sink), same
# machine, same run: latency interleaved call by call, CPU per call and peak RSS from /proc,
# start-up, throughput at 1, 4 and 16 clients with every process's CPU. Writes
# docs/benchmarks-peer.md and docs/benchmarks-peer.png. Separate from make bench: Keycloak's
# download (165 MB once) and start take minutes.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# start-dev turns theme and template caching off, which production's `start` keeps on and which
# slows this very call (the mail is rendered from templates): the peer gets production's caching.
export PEER_KC_ARGS="${BENCH_PEER_KC_ARGS---spi-theme--cache-themes=true --spi-theme--cache-templates=true}"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
bench_setup bench-peer 18320 18325 500
PLOT_PYTHON="$("$ROOT/scripts/tools.sh" matplotlib)"
"$ROOT/scripts/tools.sh" keycloak >/dev/null
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

step "release build (the shipped profile: opt-level s, fat lto, one codegen unit)" \
  cargo build --locked --release --manifest-path "$ROOT/Cargo.toml" --bin send-passkey-link --example bench --example echo
PEER_STATE="$PASSKEY_STACK_DIR/peer"
trap '"$ROOT/scripts/peer.sh" stop "$PEER_STATE"' EXIT
step "Keycloak (scripts/peer.sh start)" "$ROOT/scripts/peer.sh" start "$PEER_STATE"
RESULTS="$PASSKEY_STACK_DIR/results.json"
"$ROOT/scripts/stack.sh" with bash -c '
  "$0" --rie "$1" --bootstrap "$2" --echo "$(dirname "$0")/echo" --table "$TABLE_NAME" --calls "$3" --out "$4" \
    --dynamodb-pid "$(cat "$PASSKEY_STACK_DIR/dynamodb.pid")" --ses-pid "$(cat "$PASSKEY_STACK_DIR/ses.pid")" \
    --peer-env "$5"
' "$TARGET/release/examples/bench" "$RIE" "$TARGET/release/send-passkey-link" "$CALLS" "$RESULTS" "$PEER_STATE/peer.env"

"$PLOT_PYTHON" -B "$ROOT/scripts/bench-peer-report.py" "$RESULTS" "$PEER_STATE/peer.env" \
  "$ROOT/docs/benchmarks-peer.md" "$ROOT/docs/benchmarks-peer.png"
