#!/usr/bin/env bash
# make bench-size: what each release-profile knob does to the shipped bootstrap's size (arm64,
# built as `make package` builds it: cargo-lambda + zig) and to its speed (the same knob on
# x86_64, this machine's architecture, under AWS's runtime emulator through examples/bench/).
# Writes docs/benchmarks-size.md. Slow (two full release builds per knob): not part of make bench.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

# name|environment|source patches (scripts/bench-size/)|what it is. Each knob changes one thing
# against "shipped" (Cargo.toml's [profile.release]); "panic-abort" is what cargo-lambda builds
# when Cargo.toml names no panic strategy (it adds panic=abort), which the handler cannot have
# (tests/template/ says why). A knob with patches builds a copy of the working tree with them
# applied, resolving its own Cargo.lock (a patch that changes dependencies cannot build --locked).
KNOBS=(
  "shipped|||Cargo.toml: opt-level s, lto fat, 1 codegen unit, strip, panic unwind"
  "opt-3|CARGO_PROFILE_RELEASE_OPT_LEVEL=3||opt-level = 3 (shipped until make bench-size chose s)"
  "opt-z|CARGO_PROFILE_RELEASE_OPT_LEVEL=z||opt-level = z"
  "sdk-opt-z||sdk-opt-z.patch|opt-level = z for aws-config and the SDK crates only"
  "lto-thin|CARGO_PROFILE_RELEASE_LTO=thin||lto = thin (shipped until make bench-size chose fat)"
  "panic-abort|CARGO_PROFILE_RELEASE_PANIC=abort||panic = abort (cargo-lambda's default)"
  "no-sso||no-sso.patch|aws-config without its sso and credentials-process features"
  "ring||ring.patch|rustls on ring instead of aws-lc-rs (no post-quantum key exchange)"
)
# BENCH_SIZE_KNOBS picks knobs by name (shipped always runs: the table compares against it).
# WANTED is " name name ... ", each knob once, in KNOBS' order.
read -r -a asked <<<"${BENCH_SIZE_KNOBS:-${KNOBS[*]%%|*}}"
for name in "${asked[@]}"; do
  printf '%s\n' "${KNOBS[@]%%|*}" | grep -qxF -- "$name" \
    || { echo "bench-size: BENCH_SIZE_KNOBS names no knob '$name' (knobs: ${KNOBS[*]%%|*})" >&2; exit 2; }
done
WANTED=" "
for knob in "${KNOBS[@]}"; do
  name="${knob%%|*}"
  if [[ "$name" == shipped || " ${asked[*]} " == *" $name "* ]]; then WANTED="$WANTED$name "; fi
done
bench_setup bench-size 18310 18315 300
export PATH="$PYTHON_TOOLS:$PATH"
# The shared target dir: cargo keeps each profile's artifacts under their own hashes, so the
# knobs do not evict `make bench`'s build, and the shipped profile costs nothing when it is there.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
rustup target add aarch64-unknown-linux-gnu >/dev/null
# Each knob's results stay in its directory until the knob runs again, stamped with the run's
# time, commit and shipped arm64 size, so a run of some knobs keeps the others' last figures.
stamp="$(date -u +%Y-%m-%dT%H:%MZ) $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$ROOT" diff --quiet HEAD -- . ':!docs' 2>/dev/null || stamp="$stamp+"
for knob in "${KNOBS[@]}"; do
  IFS='|' read -r name env patches what <<<"$knob"
  [[ "$WANTED" == *" $name "* ]] || continue
  dir="$PASSKEY_STACK_DIR/$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  manifest="$ROOT/Cargo.toml"
  locked=--locked
  if [ -n "$patches" ]; then
    mkdir "$dir/src"
    git -C "$ROOT" ls-files -z | (cd "$ROOT" && tar --null -T - -cf -) | tar -xf - -C "$dir/src"
    for patch in $patches; do
      # patch(1), not git apply: inside this repository's tree git apply skips paths outside the
      # directory it runs in, which here is all of them.
      patch --batch --forward --silent --fuzz=0 -p1 -d "$dir/src" -i "$ROOT/scripts/bench-size/$patch" \
        || { echo "bench-size: scripts/bench-size/$patch no longer applies to the working tree; regenerate it" >&2; exit 1; }
    done
    manifest="$dir/src/Cargo.toml"
    locked=
  fi
  # shellcheck disable=SC2086 # $env is one NAME=VALUE or nothing
  step "$name: arm64 bootstrap (cargo lambda build)" \
    env $env cargo lambda build --release --arm64 --bin send-passkey-link --manifest-path "$manifest"
  cp "$CARGO_TARGET_DIR/lambda/send-passkey-link/bootstrap" "$dir/bootstrap-arm64"
  # shellcheck disable=SC2086 # $locked is one flag or nothing
  step "$name: x86_64 binary (cargo build)" \
    env $env cargo build $locked --release --manifest-path "$manifest" --bin send-passkey-link
  cp "$CARGO_TARGET_DIR/release/send-passkey-link" "$dir/bootstrap-x86_64"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$what" "$(stat -c %s "$dir/bootstrap-arm64")" \
    "$(stat -c %s "$dir/bootstrap-x86_64")" "$(stat -c %s "$PASSKEY_STACK_DIR/shipped/bootstrap-arm64")" \
    "$stamp" > "$dir/knob.tsv"
done

# The harness is the shipped build of examples/bench/ (only the function changes), and
# target/release/send-passkey-link is the shipped one again afterwards.
step "the bench harness (shipped profile)" \
  cargo build --locked --release --manifest-path "$ROOT/Cargo.toml" --bin send-passkey-link --example bench --example echo
"$ROOT/scripts/stack.sh" with bash -c '
  set -e
  for name in $3; do
    TABLE_NAME="$TABLE_NAME-$name" "$0" --rie "$1" --bootstrap "$2/$name/bootstrap-x86_64" --echo "$(dirname "$0")/echo" \
      --table "$TABLE_NAME-$name" --calls "$4" --out "$2/$name/latency.json" \
      --dynamodb-pid "$(cat "$PASSKEY_STACK_DIR/dynamodb.pid")" --ses-pid "$(cat "$PASSKEY_STACK_DIR/ses.pid")"
  done
' "$CARGO_TARGET_DIR/release/examples/bench" "$RIE" "$PASSKEY_STACK_DIR" "$WANTED" "$CALLS"

python3 -B "$ROOT/scripts/bench-size-report.py" "$PASSKEY_STACK_DIR" "$CALLS" "$ROOT/docs/benchmarks-size.md" \
  "${KNOBS[@]%%|*}"
