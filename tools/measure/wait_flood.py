#!/usr/bin/env python3
"""Floods msgbatch-mcp with cancels that ask to wait, and prints its peak memory.

An agent (or anything writing to the server's stdin) can send thousands of
`cancel_message_batch {wait_seconds: 600}` calls in one write. Each accepted cancel that waits
for `ended` holds its call (rmcp's task, our handler's future, a timer) for up to ten minutes,
so the number waiting at once must be bounded (src/server/waits.rs). This script sends N such
calls in one write to the given binary, against a loopback upstream that accepts every cancel and
keeps the batch `canceling`, waits until the upstream has seen every cancel, and prints the peak
RSS (VmHWM) with how many calls had been answered at once.

Driven by tools/measure/wait-flood.sh (which builds the release binary). Python 3, standard
library only, loopback only, bounded in count (N) and time (TIME_LIMIT). Reports figures,
asserts nothing: tests/wait_bound.rs does that. Linux only (/proc).

Usage: measure_wait_flood.py /path/to/msgbatch-mcp [N]
"""

import http.server
import json
import subprocess
import sys
import threading
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/msgbatch-mcp"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
TIME_LIMIT = 240  # seconds for the upstream to see every cancel before the figures are taken
SETTLE = 2.0  # seconds after the last cancel, so that answers and waits have started


def batch(bid):
    return {
        "id": bid, "type": "message_batch", "processing_status": "canceling",
        "request_counts": {"processing": 10, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
        "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
        "archived_at": None, "cancel_initiated_at": "2026-01-01T00:01:00Z",
        "ended_at": None, "results_url": None,
    }


class Upstream(http.server.BaseHTTPRequestHandler):
    """Accepts every cancel; the batch stays `canceling` for ever, so every wait runs its course."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    lock = threading.Lock()
    cancels = 0
    polls = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        with Upstream.lock:
            Upstream.cancels += 1
        self.answer()

    def do_GET(self):
        with Upstream.lock:
            Upstream.polls += 1
        self.answer()

    def answer(self):
        bid = self.path.split("/messages/batches/")[-1].split("/")[0]
        body = json.dumps(batch(bid)).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def main():
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    up.daemon_threads = True
    threading.Thread(target=up.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{up.server_address[1]}/v1"
    p = subprocess.Popen(
        [BIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env={"MSGBATCH_API_URL": base, "RUST_LOG": "error", "PATH": "/usr/bin:/bin"},
    )
    answered = {"all": 0, "not_waiting": 0}

    def read():
        for line in p.stdout:
            m = json.loads(line)
            if isinstance(m.get("id"), int) and m["id"] > 0:
                answered["all"] += 1
                text = "".join(c.get("text", "") for c in m.get("result", {}).get("content", []))
                if "did not wait" in text:
                    answered["not_waiting"] += 1

    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "flood", "version": "0"}}}
    p.stdin.write((json.dumps(init) + "\n").encode())
    p.stdin.flush()
    p.stdout.readline()
    threading.Thread(target=read, daemon=True).start()
    idle = vm(p.pid, "VmHWM")
    lines = [json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})]
    for i in range(1, N + 1):
        lines.append(json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
            "name": "cancel_message_batch",
            "arguments": {"message_batch_id": f"msgbatch_{i:08d}", "wait_seconds": 600}}}))
    payload = ("\n".join(lines) + "\n").encode()
    start = time.monotonic()
    # One write of every call (the server reads it at its own pace; the pipe blocks meanwhile).
    writer = threading.Thread(target=lambda: (p.stdin.write(payload), p.stdin.flush()), daemon=True)
    writer.start()
    while Upstream.cancels < N and time.monotonic() - start < TIME_LIMIT and p.poll() is None:
        time.sleep(0.2)
    seen_all = time.monotonic() - start
    time.sleep(SETTLE)
    peak = vm(p.pid, "VmHWM")
    rss = vm(p.pid, "VmRSS")
    print(f"binary: {BIN}")
    print(f"calls: {N} x cancel_message_batch {{wait_seconds: 600}}, written in one write ({len(payload)} bytes)")
    print(f"upstream saw {Upstream.cancels} cancels and {Upstream.polls} polls "
          f"({'all' if Upstream.cancels >= N else 'NOT all'} cancels, after {seen_all:.1f} s)")
    print(f"answered so far: {answered['all']} ({answered['not_waiting']} saying they did not wait); "
          f"still waiting: {N - answered['all']}")
    print(f"peak RSS (VmHWM): idle {idle / 1024:.1f} MiB -> after the flood {peak / 1024:.1f} MiB "
          f"(VmRSS now {rss / 1024:.1f} MiB)")
    p.kill()
    p.wait()
    up.shutdown()


if __name__ == "__main__":
    main()
