#!/usr/bin/env bash
# Soak (docs/reliability.md): the release fintech-server under mixed load for SECONDS
# (default 1800), sampling RSS, open files and p99 per window; exits 1 when one of them grows
# or the audit chain or ledger fails to verify afterwards.
#
#   scripts/soak.sh [SECONDS]        # SQLite
#   FINTECH_BENCH_POSTGRES_URL=postgres://… scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
export FINTECH_SOAK_SECS="${1:-1800}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fintech-target}"
# one release build of every binary (the bench profile inherits it), as CI builds it
cargo build --locked --release --workspace --bins
nice -n 10 cargo bench --locked --workspace --bench soak
