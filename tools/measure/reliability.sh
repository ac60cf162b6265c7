#!/usr/bin/env bash
# Measures the release binary under the fault matrix: the time each faulty call takes, peak
# memory (VmHWM) on 64 MiB and endless bodies and on 1,000 concurrent calls, how fast a client
# cancel drops the upstream request, and the time from stdin EOF / SIGTERM / SIGINT to exit
# with a call in flight. Loopback only; python3 (stdlib) plays the misbehaving upstream.
# Reports figures, asserts nothing: the tests in tests/ do that. Linux only (/proc).
set -euo pipefail
cd "$(dirname "$0")/../.."

target="${CARGO_TARGET_DIR:-target}"
echo "== building the release binary" >&2
cargo build --release --locked --quiet
exec python3 tools/measure/reliability.py "$target/release/msgbatch-mcp"
