#!/usr/bin/env bash
# What part of a `tools/call` cancel over `serve --http` is the MCP stack and what is the call's
# own work: calls/s at 64 connections (wrk, one thread) of nginx answering a cancel itself (the
# upstream), an nginx hop in front of it, and the server answering a `ping` (rmcp's whole request
# path and ours, no tool), a `tools/call` refused before any request leaves (an invalid ID: the
# tool machinery and a short answer), and the cancel (the upstream request and the full answer).
# Rounds take turns, so that all five see the same machine. Prints figures, asserts nothing.
# Usage: tools/measure/http-floor.sh BINARY [ROUNDS=3] [SECONDS=5].
# Needs nginx and wrk (Debian: apt-get install nginx-light wrk) and curl.
set -euo pipefail

bin=$(realpath "${1:?usage: $0 BINARY [ROUNDS] [SECONDS]}")
rounds=${2:-3}
secs=${3:-5}
for tool in nginx wrk curl; do
    command -v "$tool" >/dev/null || { echo "$tool not found (apt-get install nginx-light wrk curl)" >&2; exit 1; }
done
work=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    nginx -c "$work/nginx.conf" -p "$work" -s stop 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(free_port); hop=$(free_port); mcp=$(free_port)
id=msgbatch_01HkcTjaV5uDC8jWR4ZsDV01
# The same batch as benches/http.rs answers, for the one ID every request names.
batch='{"id":"'$id'","type":"message_batch","processing_status":"canceling","request_counts":{"processing":100,"succeeded":50,"errored":0,"canceled":0,"expired":0},"ended_at":null,"created_at":"2026-11-28T10:00:00Z","expires_at":"2026-11-29T10:00:00Z","archived_at":null,"cancel_initiated_at":"2026-11-28T10:05:00Z","results_url":null}'
cat >"$work/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream up { server 127.0.0.1:$up; keepalive 64; }
  server { listen 127.0.0.1:$up; location / { default_type application/json; return 200 '$batch'; } }
  server { listen 127.0.0.1:$hop;
           location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
EOF
nginx -c "$work/nginx.conf" -p "$work"

RUST_LOG=warn MSGBATCH_API_URL="http://127.0.0.1:$up/v1" ANTHROPIC_API_KEY=floor-key \
    "$bin" serve --http "127.0.0.1:$mcp" >"$work/server.out" 2>"$work/server.err" &
server=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$mcp/healthz" && break; sleep 0.1; done

script() { # name, JSON-RPC body: a POST to /mcp as an MCP client sends it
    cat >"$work/$1.lua" <<EOF
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"
wrk.headers["mcp-protocol-version"] = "2025-06-18"
wrk.body = '$2'
EOF
}
script ping '{"jsonrpc":"2.0","id":1,"method":"ping"}'
script refused '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_message_batch","arguments":{"message_batch_id":"bad/id"}}}'
script cancel '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"cancel_message_batch","arguments":{"message_batch_id":"'$id'"}}}'
printf 'wrk.method = "POST"\nwrk.headers["anthropic-version"] = "2023-06-01"\n' >"$work/up.lua"

# Each answer is checked once before timing: a wrong setup must not be measured.
curl -sf -XPOST "http://127.0.0.1:$hop/v1/messages/batches/$id/cancel" | grep -q '"canceling"'
for s in ping refused cancel; do
    body=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$work/$s.lua")
    answer=$(curl -sf -XPOST -H 'content-type: application/json' \
        -H 'accept: application/json, text/event-stream' -d "$body" "http://127.0.0.1:$mcp/mcp")
    case $s in
        ping) grep -q '"result":{}' <<<"$answer" ;;
        refused) grep -q 'Nothing was sent' <<<"$answer" ;;
        cancel) grep -q "Batch $id is canceling" <<<"$answer" ;;
    esac || { echo "unexpected answer to $s: $answer" >&2; exit 1; }
done

rate() { # URL, script: requests/s, and any error wrk reports
    wrk -t1 -c64 -d"${secs}s" -s "$2" "$1" 2>&1 |
        awk '/Requests\/sec/ {r=$2} /Non-2xx|Socket errors/ {e=e" ("$0")"} END {printf "%.0f%s", r, e}'
}
echo "calls/s at 64 connections (wrk -t1 -c64 -d${secs}s), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | upstream alone | nginx hop | server: ping | server: tools/call refused | server: cancel |"
echo "|---|---|---|---|---|---|"
for r in $(seq "$rounds"); do
    a=$(rate "http://127.0.0.1:$up/v1/messages/batches/$id/cancel" "$work/up.lua")
    b=$(rate "http://127.0.0.1:$hop/v1/messages/batches/$id/cancel" "$work/up.lua")
    c=$(rate "http://127.0.0.1:$mcp/mcp" "$work/ping.lua")
    d=$(rate "http://127.0.0.1:$mcp/mcp" "$work/refused.lua")
    e=$(rate "http://127.0.0.1:$mcp/mcp" "$work/cancel.lua")
    echo "| $r | $a | $b | $c | $d | $e |"
done
