#!/usr/bin/env bash
# CI: installs the current Claude Code from npm, then runs every scenario in
# ci/claude-code/scenarios against target/debug/msgbatch-mcp (or $MSGBATCH_BIN). Each run takes
# a few seconds; a failing one keeps its folder and prints what the model was offered.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="${MSGBATCH_BIN:-$ROOT/target/debug/msgbatch-mcp}"
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --locked --bin msgbatch-mcp)
echo "claude code: $(bash "$HERE/install.sh")"
failed=0
for scenario in "$HERE"/scenarios/*.json; do
  python3 "$HERE/run.py" "$scenario" --bin "$BIN" || failed=$((failed + 1))
done
[ "$failed" -eq 0 ] || { echo "Claude Code scenarios: $failed failed" >&2; exit 1; }
echo "Claude Code scenarios: all passed"
