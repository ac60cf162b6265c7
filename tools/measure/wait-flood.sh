#!/usr/bin/env bash
# Floods the release binary with 20,000 cancels asking to wait 600 s, sent in one write, and
# prints the peak RSS (VmHWM): the bound on calls waiting for `ended` (src/server/waits.rs) is
# what keeps it flat. Loopback only; python3 (stdlib) plays an upstream that keeps every batch
# `canceling`. Bounded in count and time; reports figures, asserts nothing (tests/wait_bound.rs
# does). Linux only (/proc). Usage: tools/measure/wait-flood.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."

target="${CARGO_TARGET_DIR:-target}"
echo "== building the release binary" >&2
cargo build --release --locked --quiet
exec python3 tools/measure/wait_flood.py "$target/release/msgbatch-mcp" "${1:-20000}"
