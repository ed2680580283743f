#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the modules that guard money, on demand (CPU-heavy:
# about a minute per mutant on a 2-core machine). Each file runs with fintech-core's lib
# tests, one job, in place on a scratch copy of the repository, so the tree you work in is
# never mutated. Results in $MUTANTS_OUT/<file>/mutants.out/{caught,missed,unviable}.txt.
#
#   .ci/mutants.sh                       every file below
#   .ci/mutants.sh fintech-core/src/money.rs
#
# Figures and the goal (90% of viable mutants caught per module): docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

FILES=("$@")
[ ${#FILES[@]} -gt 0 ] || FILES=(
    fintech-core/src/policy.rs
    fintech-core/src/money.rs
    fintech-core/src/ledger.rs
    fintech-core/src/fraud.rs
    fintech-core/src/fraud/engine.rs
    fintech-core/src/platform/decision.rs
)
command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants

export CARGO_TARGET_DIR="${MUTANTS_TARGET_DIR:-${CARGO_TARGET_DIR:-$HOME/.cache/fintech-target}/mutants}"
export CARGO_INCREMENTAL=0 CARGO_PROFILE_DEV_DEBUG=0
OUT=${MUTANTS_OUT:-$ROOT/target-mutants}
SRC=$(mktemp -d)
trap 'rm -rf "$SRC"' EXIT
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$SRC"

for f in "${FILES[@]}"; do
    name=$(echo "$f" | tr / _)
    mkdir -p "$OUT/$name"
    echo "==> mutants of $f"
    (cd "$SRC" && nice -n 10 cargo mutants --in-place -f "$f" --test-package fintech-core \
        --exclude-re openapi --timeout 300 --build-timeout 900 -o "$OUT/$name" -- --lib) || true
    for k in caught missed unviable timeout; do
        printf '%s %s: %s\n' "$f" "$k" "$(grep -c . "$OUT/$name/mutants.out/$k.txt" 2>/dev/null || echo 0)"
    done
done
