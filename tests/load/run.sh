#!/usr/bin/env bash
# The external load test: the release binaries under wrk from outside the process, each figure
# next to its baseline measured in the same run on the same machine and database.
#
#   POST /v1/payments on PostgreSQL (1 tenant at 8 and 50 connections, 8 tenants at 50)
#       vs pgbench tpcb-like on the same PostgreSQL (fsync on) at the same client count
#   POST /v1/payments on SQLite (8 and 50 connections)
#       vs a raw loop of 2-row transactions with the Store's settings (WAL, synchronous=FULL)
#   GET /v1/accounts (SQLite and PostgreSQL, 50 connections) vs an axum hello-world
#   MCP tools/call `whoami` on fintech-server's /mcp (50 connections)
#       vs a bare rmcp server (same version, JSON responses) and the official Python SDK server
#
# Every request counted must succeed: any non-2xx answer (or a socket error or timeout) fails
# the run. Goals are printed beside the ratios, never asserted (this machine is shared).
#
# Usage: tests/load/run.sh [--smoke]
#   --smoke                      2 s per figure instead of 10 (FINTECH_LOAD_SECONDS overrides)
#   FINTECH_LOAD_POSTGRES_URL    a PostgreSQL server whose user may create databases; without
#                                it the script re-runs itself under pg_virtualenv (fsync on)
#   FINTECH_LOAD_NO_BUILD=1      use the release binaries already in $CARGO_TARGET_DIR
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
LOAD="$ROOT/tests/load"
SECS=${FINTECH_LOAD_SECONDS:-10}
if [ "${1:-}" = "--smoke" ]; then SECS=${FINTECH_LOAD_SECONDS:-2}; fi

if [ -z "${FINTECH_LOAD_POSTGRES_URL:-}" ]; then
    # pg_virtualenv turns fsync off by default; the baseline and the payments need it on.
    exec pg_virtualenv -o fsync=on -o synchronous_commit=on -o max_connections=300 bash -c \
        'FINTECH_LOAD_POSTGRES_URL="postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/postgres" exec "$0" "$@"' \
        "$0" "$@"
fi
PG="$FINTECH_LOAD_POSTGRES_URL"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v wrk >/dev/null; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq wrk >/dev/null
fi
if ! python3 -c 'import mcp.server.mcpserver' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check "mcp>=2.3,<3"
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
export PATH="$PATH:$PGBIN"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "${FINTECH_LOAD_NO_BUILD:-}" != 1 ]; then
    cargo build --locked --release --workspace --bins
fi
BIN="$CARGO_TARGET_DIR/release"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 300); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "FAIL: nothing listens on port $1" >&2
    exit 1
}
psql_admin() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$PG" "$@"; }
db_url() { # a fresh database on the PostgreSQL server
    local name="load_$1_$$"
    psql_admin -c "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
    local base=${PG%%\?*}
    echo "${base%/*}/$name"
}

FAILED=0
# wrk_run NAME MODE URL CONNECTIONS [KEYS]: sets RPS P50 P99; a failed request fails the run.
wrk_run() {
    local name=$1 mode=$2 url=$3 conns=$4 keys=${5:-}
    local out="$WORK/wrk-$name.txt"
    LOAD_MODE=$mode LOAD_KEYS=$keys LOAD_RUN="$name-$$" \
        wrk -t2 -c"$conns" -d"${SECS}s" --timeout 10s -s "$LOAD/load.lua" "$url" >"$out" 2>&1 || true
    local line
    line=$(grep '^RESULT ' "$out" || true)
    if [ -z "$line" ]; then
        echo "FAIL: $name: wrk gave no result" >&2
        cat "$out" >&2
        FAILED=1
        RPS=0 P50=0 P99=0
        return
    fi
    RPS=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
    P50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")
    P99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")
    local bad sock
    bad=$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")
    sock=$(sed -E 's/.*socket_errors=([0-9]+).*/\1/' <<<"$line")
    if [ "$bad" != 0 ] || [ "$sock" != 0 ]; then
        echo "FAIL: $name: $bad non-2xx answers, $sock socket errors or timeouts" >&2
        grep '^FIRST_FAILURE' "$out" >&2 || true
        FAILED=1
    fi
}

pgbench_tps() { # pgbench_tps CLIENTS
    local url
    url=$(db_url pgbench)
    pgbench -i -s 1 -q "$url" >/dev/null 2>&1
    pgbench -c "$1" -j 2 -T "$SECS" -b tpcb-like "$url" 2>/dev/null |
        sed -nE 's/^tps = ([0-9.]+).*/\1/p'
}

ROWS=()
# row WHAT RPS P99 BASELINE_NAME BASELINE GOAL (GOAL: the least ratio, "" for none)
row() {
    local ratio met=""
    ratio=$(awk -v a="$2" -v b="$5" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    if [ -n "$6" ] && [ "$ratio" != "-" ]; then
        met=$(awk -v r="$ratio" -v g="$6" 'BEGIN { print (r >= g) ? "met" : "NOT met" }')
        met="≥ ${6}×: $met"
    fi
    if [ "$4" = "-" ]; then
        ROWS+=("$(printf '| %s | %.0f/s | %.1f ms | (baseline) | | |' "$1" "$2" "$3")")
        printf '  %-60s %8.0f/s  p99 %7.1f ms\n' "$1" "$2" "$3"
        return
    fi
    ROWS+=("$(printf '| %s | %.0f/s | %.1f ms | %s %.0f/s | %s× | %s |' "$1" "$2" "$3" "$4" "$5" "$ratio" "$met")")
    printf '  %-60s %8.0f/s  p99 %7.1f ms  %5s× of %s %.0f/s  %s\n' "$1" "$2" "$3" "$ratio" "$4" "$5" "$met"
}

KEY_B64=$(head -c 32 /dev/urandom | base64)
# start_server NAME DATABASE_URL: starts fintech-server on a fresh database; sets PORT and
# ADMIN (the bootstrap admin key of the sandbox tenant, which has demo bank data)
start_server() {
    local dir="$WORK/$1"
    mkdir -p "$dir"
    PORT=$(free_port)
    (cd "$dir" && FINTECH_DATABASE_URL="$2" FINTECH_ENCRYPTION_KEY="$KEY_B64" FINTECH_LOG=warn \
        exec "$BIN/fintech-server" --addr "127.0.0.1:$PORT" --rate-limit 0 --metrics-addr off \
        >out.txt 2>err.txt) &
    PIDS+=($!)
    wait_port "$PORT"
    for _ in $(seq 1 100); do grep -q 'fk_' "$dir/out.txt" && break; sleep 0.1; done
    ADMIN=$(grep -o 'fk_[0-9a-f]*' "$dir/out.txt" | head -1)
}
# tenant_keys DATABASE_URL N: N new tenants, a payments key each, comma-separated
tenant_keys() {
    local keys="" t
    for i in $(seq 1 "$2"); do
        t=$(FINTECH_ENCRYPTION_KEY="$KEY_B64" "$BIN/fintech" --database-url "$1" tenants create "load-$i" -o json |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
        keys+=$(FINTECH_ENCRYPTION_KEY="$KEY_B64" "$BIN/fintech" --database-url "$1" --tenant "$t" \
            keys create --name load --scopes payments:read,payments:write -o json 2>/dev/null |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])'),
    done
    echo "${keys%,}"
}

echo "external load test: release binaries, wrk -t2, ${SECS} s per figure, $(nproc) cores"
echo "PostgreSQL: fsync=$(psql_admin -Atc 'SHOW fsync'), synchronous_commit=$(psql_admin -Atc 'SHOW synchronous_commit'); $(psql_admin -Atc 'SHOW server_version')"
echo "note: figures from a shared machine vary between runs; ratios are against baselines of this run"

echo "== PostgreSQL"
PG_URL=$(db_url fintech)
start_server postgres "$PG_URL"
PG_PORT=$PORT PG_ADMIN=$ADMIN
PG_KEYS=$(tenant_keys "$PG_URL" 8)
PG_KEY1=${PG_KEYS%%,*}
TPS8=$(pgbench_tps 8)
wrk_run pg-pay-8 pay "http://127.0.0.1:$PG_PORT" 8 "$PG_KEY1"
row "POST /v1/payments, PostgreSQL, 1 tenant, 8 connections" "$RPS" "$P99" "pgbench tpcb-like 8 clients" "$TPS8" 1.0
TPS50=$(pgbench_tps 50)
wrk_run pg-pay-50 pay "http://127.0.0.1:$PG_PORT" 50 "$PG_KEY1"
row "POST /v1/payments, PostgreSQL, 1 tenant, 50 connections" "$RPS" "$P99" "pgbench tpcb-like 50 clients" "$TPS50" 1.0
wrk_run pg-pay-50x8 pay "http://127.0.0.1:$PG_PORT" 50 "$PG_KEYS"
row "POST /v1/payments, PostgreSQL, 8 tenants, 50 connections" "$RPS" "$P99" "pgbench tpcb-like 50 clients" "$TPS50" 1.5

echo "== SQLite"
SQ_URL="sqlite://$WORK/sqlite/fintech.db?mode=rwc"
mkdir -p "$WORK/sqlite"
start_server sqlite "$SQ_URL"
SQ_PORT=$PORT SQ_ADMIN=$ADMIN
SQ_KEY1=$(tenant_keys "$SQ_URL" 1)
RAW=$("$BIN/fintech-load-peer" sqlite-raw "$WORK/raw.db" "$SECS" 1 | sed -nE 's/^raw_tps ([0-9.]+)/\1/p')
wrk_run sq-pay-8 pay "http://127.0.0.1:$SQ_PORT" 8 "$SQ_KEY1"
row "POST /v1/payments, SQLite, 8 connections" "$RPS" "$P99" "raw 2-row tx, synchronous=FULL" "$RAW" 0.5
wrk_run sq-pay-50 pay "http://127.0.0.1:$SQ_PORT" 50 "$SQ_KEY1"
row "POST /v1/payments, SQLite, 50 connections" "$RPS" "$P99" "raw 2-row tx, synchronous=FULL" "$RAW" 0.5

echo "== reads"
HELLO_PORT=$(free_port)
"$BIN/fintech-load-peer" hello "127.0.0.1:$HELLO_PORT" >/dev/null & PIDS+=($!)
wait_port "$HELLO_PORT"
wrk_run hello get "http://127.0.0.1:$HELLO_PORT/" 50
HELLO=$RPS
row "GET / axum hello-world, 50 connections" "$RPS" "$P99" "-" 0 ""
wrk_run sq-accounts get "http://127.0.0.1:$SQ_PORT/v1/accounts" 50 "$SQ_ADMIN"
row "GET /v1/accounts, SQLite, 50 connections" "$RPS" "$P99" "hello-world" "$HELLO" 0.7
wrk_run pg-accounts get "http://127.0.0.1:$PG_PORT/v1/accounts" 50 "$PG_ADMIN"
row "GET /v1/accounts, PostgreSQL, 50 connections" "$RPS" "$P99" "hello-world" "$HELLO" 0.7

echo "== MCP"
BARE_PORT=$(free_port)
"$BIN/fintech-load-peer" bare-mcp "127.0.0.1:$BARE_PORT" >/dev/null & PIDS+=($!)
wait_port "$BARE_PORT"
wrk_run bare-mcp mcp "http://127.0.0.1:$BARE_PORT/mcp" 50
BARE=$RPS
row "MCP tools/call, bare rmcp, 50 connections" "$RPS" "$P99" "-" 0 ""
PY_PORT=$(free_port)
python3 "$ROOT/tests/benches/peers/python_mcp_server.py" "$PY_PORT" >/dev/null 2>&1 & PIDS+=($!)
wait_port "$PY_PORT"
wrk_run python-mcp mcp "http://127.0.0.1:$PY_PORT/mcp" 50
PY=$RPS
row "MCP tools/call, Python SDK MCPServer, 50 connections" "$RPS" "$P99" "-" 0 ""
wrk_run fintech-mcp mcp "http://127.0.0.1:$SQ_PORT/mcp" 50 "$SQ_ADMIN"
OURS_RPS=$RPS OURS_P99=$P99
row "MCP tools/call whoami, fintech-server /mcp, 50 connections" "$OURS_RPS" "$OURS_P99" "bare rmcp" "$BARE" 0.7
row "same" "$OURS_RPS" "$OURS_P99" "Python SDK" "$PY" 10

echo
echo "| what | this project | p99 | baseline, same run | ratio | goal |"
echo "|---|---:|---:|---|---:|---|"
printf '%s\n' "${ROWS[@]}"
if [ "$FAILED" != 0 ]; then
    for log in "$WORK"/*/err.txt; do
        echo "--- first errors in $log:" >&2
        grep -a -E 'ERROR|panicked' "$log" | head -5 >&2 || true
    done
    echo "FAIL: some requests did not succeed (see above)" >&2
    exit 1
fi
echo "every counted request succeeded"
