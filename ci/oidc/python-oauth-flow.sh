#!/usr/bin/env bash
# The official Python MCP SDK's OAuth client (PyPI `mcp`, pinned below) completes a real sign-in
# against `serve --http` with OAuth and the test OpenID provider (ci/oidc/provider.mjs), then
# calls a tool: 401 -> resource metadata -> authorization server metadata -> dynamic client
# registration -> authorization code with PKCE and the resource -> token -> tools/list (the read
# tools only) -> a cancel, 403 insufficient_scope -> step-up sign-in -> the cancel goes through.
# Checks the audit file's two lines (the refused cancel and the cancel) name the person who signed
# in. Everything on loopback; the processes it starts are stopped on exit.
# Needs cargo, node + npm (20+), python3 (3.10+, with venv), and PyPI and npm on the first run.
set -euo pipefail

MCP_VERSION="2.3.0"  # PyPI mcp, the official Python SDK
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.tools/mcp-venv"
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

echo "==> tools: oidc-provider (npm), mcp $MCP_VERSION (PyPI)"
bash ci/oidc/install.sh
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || fail "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check "mcp==$MCP_VERSION" \
  || fail "pip could not install mcp==$MCP_VERSION (is PyPI reachable?)"
cargo build --locked --quiet --bin msgbatch-mcp
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/msgbatch-mcp"

unset ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN MSGBATCH_HTTP_TOKEN HTTP_PROXY HTTPS_PROXY ALL_PROXY \
  http_proxy https_proxy all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() {  # wait_for FILE PATTERN: the first line of FILE matching PATTERN, within 30 s
  for _ in $(seq 1 300); do
    line="$(grep -m1 -E "$2" "$1" 2>/dev/null || true)"
    [ -n "$line" ] && { echo "$line"; return 0; }
    sleep 0.1
  done
  fail "nothing matching '$2' in $1: $(cat "$1")"
}

# The MCP URL must be known before the provider starts (tokens are issued for it), so pick a port.
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
MCP_URL="http://127.0.0.1:$PORT/mcp"

"$BIN" mock --listen 127.0.0.1:0 >"$WORK/mock.log" 2>&1 &
PIDS+=($!)
MOCK="$(wait_for "$WORK/mock.log" '^Message Batches API simulator on' | sed 's|.* on \(http://[0-9.:]*\).*|\1|')"

# The provider stops when its stdin closes: keep it open with a pipe we hold.
mkfifo "$WORK/idp.in"
node ci/oidc/provider.mjs .tools/oidc/node_modules "$MCP_URL" <"$WORK/idp.in" >"$WORK/idp.log" 2>&1 &
PIDS+=($!)
exec 3>"$WORK/idp.in"
ISSUER="$(wait_for "$WORK/idp.log" '^issuer ' | cut -d' ' -f2)"

MSGBATCH_API_URL="$MOCK/v1" MSGBATCH_OAUTH_ISSUER="$ISSUER" MSGBATCH_PUBLIC_URL="$MCP_URL" \
  MSGBATCH_AUDIT_LOG="$WORK/audit.jsonl" "$BIN" serve --http "127.0.0.1:$PORT" \
  >"$WORK/server.out" 2>"$WORK/server.log" &
PIDS+=($!)
wait_for "$WORK/server.out" 'serving MCP at' >/dev/null

# A batch to cancel: the simulator's first in_progress one.
BATCH="$(python3 - "$MOCK" <<'PY'
import json, sys, urllib.request
request = urllib.request.Request(
    sys.argv[1] + "/v1/messages/batches?limit=100",
    headers={"x-api-key": "simulator", "anthropic-version": "2023-06-01"},
)
page = json.load(urllib.request.urlopen(request))
print(next(b["id"] for b in page["data"] if b["processing_status"] == "in_progress"))
PY
)"

echo "==> the official Python MCP SDK signs in and cancels $BATCH"
"$VENV/bin/python" ci/oidc/oauth_flow.py "$MCP_URL" "$BATCH" ada.lovelace \
  || fail "the OAuth flow failed; server log: $(tail -20 "$WORK/server.log")"

echo "==> the audit file"
cat "$WORK/audit.jsonl"
python3 - "$WORK/audit.jsonl" "$BATCH" <<'PY' || fail "the audit lines are not as expected"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["outcome"] for l in lines] == ["refused", "canceling"], lines
for l in lines:
    assert l["who"] == {"kind": "oauth", "sub": "ada.lovelace"}, l
    assert l["batch_ids"] == [sys.argv[2]] and l["client_id"], l
assert lines[1]["batches"][0]["request_id"].startswith("req_"), lines[1]
PY
echo "ok: the official Python MCP SDK completed the OAuth flow and cancelled through the real provider"
