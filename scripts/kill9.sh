#!/usr/bin/env bash
# kill -9 under load, at scale (docs/reliability.md): CYCLES (default 50) cycles of load,
# SIGKILL and restart of the real fintech-server on SQLite, on PostgreSQL, and with two
# instances on one PostgreSQL where one is killed; after each, every acknowledged payment
# exists once and replays, unanswered keys resolve once, `fintech audit verify` and
# `fintech ledger verify` pass. Prints the suite lines with their counts.
#
#   scripts/kill9.sh [CYCLES]
#
# PostgreSQL: FINTECH_TEST_POSTGRES_URL (a server whose user may create databases), else a
# throwaway cluster from pg_virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
export FINTECH_KILL9_CYCLES="${1:-50}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fintech-target}"
export FINTECH_REQUIRE_POSTGRES=1
export FINTECH_TEST_REPORT="${FINTECH_TEST_REPORT:-$(mktemp)}"

run() {
    # the same package selection as CI, so nothing is rebuilt with other features
    cargo build --locked --workspace --bins
    nice -n 10 cargo test --locked --workspace --test it kill9 -- --test-threads=1
}
start=$(date +%s)
if [ -n "${FINTECH_TEST_POSTGRES_URL:-}" ]; then
    run
else
    export -f run
    pg_virtualenv -o max_connections=300 bash -c '
        export FINTECH_TEST_POSTGRES_URL="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/postgres"
        run'
fi
echo
grep "kill -9" "$FINTECH_TEST_REPORT"
echo "($FINTECH_KILL9_CYCLES cycles each, $(( $(date +%s) - start )) s)"
