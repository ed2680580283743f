#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer; needs the nightly toolchain and cargo-fuzz).
#
#   .ci/fuzz.sh short [target…]   CI: each target for FUZZ_SECONDS (default 20 s)
#   .ci/fuzz.sh long  [target…]   on demand: each target for FUZZ_SECONDS (default 600 s)
#   .ci/fuzz.sh build             build every target, run nothing
#
# Targets (fuzz/fuzz_targets/): money, json_body, mcp_args, stripe_signature, plaid_jwt,
# operator_jwt, oidc_token, fraud_rules. Each starts from its kept seed corpus in
# fuzz/corpus/<target> (small, in git) and works in a scratch copy, so a run never changes
# the repository; new inputs worth keeping are added by hand (`cargo fuzz cmin` first).
# A crash fails the script and leaves the input in fuzz/artifacts/<target>/: reproduce with
# `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`, then turn it into a
# regression test in the normal test suite. See docs/reliability.md ("Fuzzing").
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)

MODE=${1:-short}
shift || true
case "$MODE" in
    short) SECONDS_EACH=${FUZZ_SECONDS:-20} ;;
    long) SECONDS_EACH=${FUZZ_SECONDS:-600} ;;
    build) SECONDS_EACH=0 ;;
    *)
        echo "usage: $0 short|long|build [target…]" >&2
        exit 2
        ;;
esac

ALL=(money json_body mcp_args stripe_signature plaid_jwt operator_jwt oidc_token fraud_rules)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

# its own build directory: the sanitizer flags would invalidate the main cache
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/fintech-target}/fuzz}"

start=$(date +%s)
if [ ${#TARGETS[@]} -eq 1 ]; then
    (cd fuzz && cargo +nightly fuzz build --fuzz-dir . "${TARGETS[0]}")
else
    (cd fuzz && cargo +nightly fuzz build --fuzz-dir .)
fi
echo "fuzz build: $(( $(date +%s) - start )) s"
[ "$MODE" = build ] && exit 0

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
for t in "${TARGETS[@]}"; do
    mkdir -p "$SCRATCH/$t" "fuzz/artifacts/$t"
    cp -r "fuzz/corpus/$t/." "$SCRATCH/$t/"
    echo "==> fuzz $t for ${SECONDS_EACH}s"
    (cd fuzz && cargo +nightly fuzz run --fuzz-dir . "$t" "$SCRATCH/$t" -- \
        -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY|Done)' || true)
    if [ -n "$(ls -A "fuzz/artifacts/$t" 2>/dev/null)" ]; then
        echo "FAIL: fuzz target $t crashed; inputs in $ROOT/fuzz/artifacts/$t" >&2
        exit 1
    fi
done
echo "fuzzing: ${#TARGETS[@]} targets, ${SECONDS_EACH}s each, no crash"
