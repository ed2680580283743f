#!/usr/bin/env bash
# Runs schemathesis (a peer this project did not write) against a live fintech-server built
# from this tree: every documented operation fuzzed, no 5xx, every response must match the
# OpenAPI document. Usage: .ci/schemathesis.sh DATABASE_URL
set -euo pipefail
DB_URL=${1:?database URL}
BIN="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/debug/fintech-server"
PORT=${SCHEMATHESIS_PORT:-18080}
WORK=$(mktemp -d)
cd "$WORK"
FINTECH_ENCRYPTION_KEY=${FINTECH_ENCRYPTION_KEY:-$(head -c 32 /dev/urandom | base64)} \
    "$BIN" --addr "127.0.0.1:$PORT" --database-url "$DB_URL" --rate-limit 0 >server.out 2>server.err &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done
KEY=$(grep -o 'fk_[0-9a-f]*' server.out | head -1 || true)
if [ -z "$KEY" ]; then
    echo "no bootstrap key printed" >&2
    cat server.out server.err >&2
    exit 1
fi
# DELETE /v1/keys/{id} is excluded: the stateful phase would revoke the key it runs with.
# positive_data_acceptance is excluded: the schema cannot say which institution ids exist or
# that USD has two decimals, so schema-valid requests are rightly refused with 422.
schemathesis run "http://127.0.0.1:$PORT/openapi.json" \
    -H "Authorization: Bearer $KEY" \
    --exclude-method DELETE \
    --exclude-checks positive_data_acceptance \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-50}" \
    --seed 1
if grep -q "panicked" server.err; then
    echo "the server panicked" >&2
    exit 1
fi
