#!/usr/bin/env bash
# Drives `msgbatch-mcp mock` with the CURRENT official SDKs, unmodified, as a user would (issue 8):
#   - the latest `anthropic` from PyPI, in the venv .tools/sdk-venv;
#   - the latest `@anthropic-ai/sdk` from npm, under .tools/sdk-npm.
# No version is pinned on purpose: the point is to learn when today's SDKs stop working against
# the simulator (a new API version, a new way to send the key, new paths). Each SDK creates
# batches, lists them with auto-pagination, cancels one, retrieves it until it has ended, reads its
# results, deletes it, and checks a 404 and two 400s (ci/sdk/*).
# Needs cargo, python3 3.10+ (with venv), node + npm (20 or newer) and network to PyPI and npm.
# Starts one simulator on a free loopback port and stops it on exit. Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/sdk-venv"
NPM_PREFIX="$TOOLS/sdk-npm"

fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed: $2"; }
need python3 "install Python 3.10 or newer (with venv): anthropic 2.x needs it"
need node "install Node.js 20 or newer"
need npm "install npm (it comes with Node.js)"

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
  || fail "Python $(python3 --version 2>&1) is too old: the anthropic SDK needs 3.10 or newer"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail "Node $(node --version) is too old: checked on Node 20 or newer"

echo "==> official SDKs (latest from PyPI and npm)"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || fail "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
"$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade anthropic \
  || fail "pip could not install anthropic (is PyPI reachable?)"
mkdir -p "$NPM_PREFIX"
npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error @anthropic-ai/sdk@latest >/dev/null \
  || fail "npm could not install @anthropic-ai/sdk (is the npm registry reachable?)"
py_version="$("$VENV/bin/python" -c 'import anthropic; print(anthropic.__version__)')"
ts_version="$(node -p "require('$NPM_PREFIX/node_modules/@anthropic-ai/sdk/package.json').version")"
echo "    anthropic $py_version (PyPI), @anthropic-ai/sdk $ts_version (npm), node $(node --version)"

echo "==> msgbatch-mcp mock"
cargo build --locked --quiet --bin msgbatch-mcp
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/msgbatch-mcp"
LOG="$(mktemp)"
# Nothing of the user's may leak into the SDKs' settings or route loopback through a proxy.
unset ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN ANTHROPIC_BASE_URL HTTP_PROXY HTTPS_PROXY ALL_PROXY \
  http_proxy https_proxy all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
# 20 ms a request, 300 ms from a cancel to the end: the whole run takes seconds.
"$BIN" mock --listen 127.0.0.1:0 --request-ms 20 --cancel-delay-ms 300 >"$LOG" 2>&1 &
MOCK_PID=$!
cleanup() { kill "$MOCK_PID" 2>/dev/null || true; wait "$MOCK_PID" 2>/dev/null || true; rm -f "$LOG"; }
trap cleanup EXIT

ADDR=""
for _ in $(seq 1 100); do
  ADDR="$(sed -n 's|^Message Batches API simulator on http://\([0-9.:]*\).*|\1|p' "$LOG" | head -n1)"
  [ -n "$ADDR" ] && break
  kill -0 "$MOCK_PID" 2>/dev/null || { cat "$LOG" >&2; fail "msgbatch-mcp mock exited"; }
  sleep 0.1
done
[ -n "$ADDR" ] || { cat "$LOG" >&2; fail "msgbatch-mcp mock did not print its address"; }
BASE="http://$ADDR"
echo "    serving at $BASE (the SDKs' base URL; they add /v1/messages/batches)"

status=0
echo "==> Python SDK"
"$VENV/bin/python" ci/sdk/python_sdk_check.py "$BASE" || status=1
echo "==> TypeScript SDK"
NODE_PATH="$NPM_PREFIX/node_modules" node ci/sdk/ts_sdk_check.cjs "$BASE" || status=1

[ "$status" -eq 0 ] || fail "an official SDK does not work against msgbatch-mcp mock (see above)"
echo "==> both official SDKs work against msgbatch-mcp mock"
