#!/usr/bin/env bash
# Peak RSS of `msgbatch-mcp mock` under issue 11's reproductions (item 6): 20 creates with a 30 MiB
# model, a 32 MiB body of {"requests":[0,0,…]}, 40 unread result downloads, 2,000 half-open
# connections. Each on a fresh simulator; loopback only; python3 (stdlib) plays the client.
# Usage: tools/measure/simulator-memory.sh [BINARY...]   (default: this tree's debug build)
# Give an older build too to compare before/after. Reports figures, asserts nothing: the limits
# are tested by tests/simulator_limits.rs. Linux only (/proc). Takes about a minute per binary.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ "$#" -eq 0 ]; then
  echo "== building the debug binary" >&2
  cargo build --locked --quiet --bin msgbatch-mcp
  set -- "${CARGO_TARGET_DIR:-target}/debug/msgbatch-mcp"
fi
for binary in "$@"; do
  python3 tools/measure/simulator_memory.py "$binary"
done
