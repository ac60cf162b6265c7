#!/usr/bin/env bash
# Instructions per `tools/call` of `msgbatch-mcp serve --http`, counted by valgrind's callgrind
# (stable on a busy machine, unlike time). Starts a loopback upstream that answers a cancel at
# once (tools/measure/profile_http.py) and the server under callgrind, warms up with WARMUP calls,
# zeroes the counters, sends CALLS calls on one keep-alive connection (every answer checked),
# and prints the instructions per call. The profile is left in $OUT.1 for callgrind_annotate
# (--inclusive=yes). For function names, profile a build without LTO and not stripped:
#   CARGO_TARGET_DIR=/work/target-prof CARGO_PROFILE_RELEASE_LTO=false \
#   CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_STRIP=false \
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release --bin msgbatch-mcp
# Usage: tools/measure/profile-http.sh BINARY [CALLS=500] [WARMUP=200]. Needs valgrind and python3.
set -euo pipefail

bin=$(realpath "${1:?usage: $0 BINARY [CALLS] [WARMUP]}")
calls=${2:-500}
warmup=${3:-200}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
OUT=${OUT:-$work/callgrind.out}
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -f "$work"/server.out "$work"/server.err "$work"/upstream.port
}
trap cleanup EXIT

python3 "$here/profile_http.py" upstream >"$work/upstream.port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/upstream.port" ] && break; sleep 0.1; done
upstream_port=$(head -n1 "$work/upstream.port")

MSGBATCH_API_URL="http://127.0.0.1:$upstream_port/v1" ANTHROPIC_API_KEY=profile-key \
    valgrind --tool=callgrind --callgrind-out-file="$OUT" \
    "$bin" serve --http 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server=$!
pids+=("$server")
port=
for _ in $(seq 600); do
    port=$(sed -n 's#.*http://127.0.0.1:\([0-9]*\)/mcp.*#\1#p' "$work/server.out")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.err" >&2; exit 1; }

python3 "$here/profile_http.py" drive "$port" "$warmup" >/dev/null
callgrind_control -z "$server" >/dev/null 2>&1
python3 "$here/profile_http.py" drive "$port" "$calls"
callgrind_control -d "$server" >/dev/null 2>&1
for _ in $(seq 50); do [ -s "$OUT.1" ] && grep -q '^totals:' "$OUT.1" && break; sleep 0.1; done
total=$(sed -n 's/^totals: //p' "$OUT.1")
echo "instructions: $total for $calls calls = $((total / calls)) per call (profile: $OUT.1)"
