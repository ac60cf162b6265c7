#!/usr/bin/env python3
"""Measures msgbatch-mcp under faults: call times, peak memory, shutdown time.

Driven by tools/measure/reliability.sh (which builds the release binary). Python 3.11,
standard library only, loopback only. Prints a report; asserts nothing (the tests do that).

Usage: measure_reliability.py /path/to/msgbatch-mcp
"""

import http.server
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/msgbatch-mcp"
TIMEOUT_SECS = 2  # MSGBATCH_TIMEOUT_SECS for the fault matrix, so a hang costs seconds, not minutes

def batch(bid, status="canceling"):
    return {
        "id": bid, "type": "message_batch", "processing_status": status,
        "request_counts": {"processing": 10, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
        "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
        "archived_at": None, "cancel_initiated_at": "2026-01-01T00:01:00Z",
        "ended_at": None, "results_url": None,
    }


class Upstream(http.server.BaseHTTPRequestHandler):
    """The Batches API misbehaving on purpose; the batch ID in the path picks the fault."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, as a real server's would
    counts = {}
    lock = threading.Lock()
    disconnects = []  # times at which a hanging request saw the client hang up

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.do_GET()

    def do_GET(self):
        parts = self.path.split("/messages/batches/")
        bid = parts[1].split("/")[0].split("?")[0] if len(parts) > 1 else ""
        with Upstream.lock:
            n = Upstream.counts.get(bid, 0)
            Upstream.counts[bid] = n + 1
        ok = json.dumps(batch(bid)).encode()
        fault = bid.removeprefix("msgbatch_")
        def err(status, kind):
            return json.dumps({"type": "error", "error": {"type": kind, "message": kind},
                               "request_id": "req_x"}).encode()
        if fault == "e500" and n == 0:
            return self.send(500, err(500, "api_error"))
        if fault == "e529" and n == 0:
            return self.send(529, err(529, "overloaded_error"))
        if fault == "e429" and n == 0:
            return self.send(429, err(429, "rate_limit_error"), headers=[("retry-after", "1")])
        if fault == "noretry":
            return self.send(503, err(503, "api_error"), headers=[("x-should-retry", "false")])
        if fault == "e401":
            return self.send(401, err(401, "authentication_error"), headers=[("request-id", "req_401")])
        if fault == "e403":
            return self.send(403, err(403, "permission_error"))
        if fault == "e404":
            return self.send(404, err(404, "not_found_error"))
        if fault == "flat404":
            return self.send(404, b'{"type":"not_found_error","message":"no such batch"}')
        if fault == "badjson":
            return self.send(200, b'{"id": "msgbatch_')
        if fault == "html502":
            return self.send(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        if fault == "big64":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(64 * 1024 * 1024))
            self.end_headers()
            try:
                chunk = b" " * (1024 * 1024)
                for _ in range(64):
                    self.wfile.write(chunk)
            except OSError:
                pass
            self.close_connection = True
            return
        if fault == "endless":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            chunk = b" " * 65536
            try:
                while True:
                    self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except OSError:
                pass
            self.close_connection = True
            return
        if fault == "hang":
            # Wait for the client to hang up (readable with no data), at most 5 minutes.
            sock = self.connection
            end = time.monotonic() + 300
            while time.monotonic() < end:
                r, _, _ = select.select([sock], [], [], 0.05)
                if r:
                    try:
                        if not sock.recv(1, socket.MSG_PEEK):
                            break
                    except OSError:
                        break
            Upstream.disconnects.append(time.monotonic())
            self.close_connection = True
            return
        return self.send(200, ok)


class Server:
    """msgbatch-mcp over stdio, driven with raw JSON-RPC lines."""

    def __init__(self, base_url, env=None):
        e = {k: v for k, v in os.environ.items()
             if k not in ("ANTHROPIC_API_KEY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                          "http_proxy", "https_proxy", "all_proxy")}
        e.update({"MSGBATCH_API_URL": base_url, "RUST_LOG": "warn"})
        e.update(env or {})
        self.p = subprocess.Popen([BIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=e)
        self.answers = {}
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.send({"jsonrpc": "2.0", "id": "init", "method": "initialize",
                   "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                              "clientInfo": {"name": "measure", "version": "1"}}})
        self.wait("init")
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _read(self):
        for line in self.p.stdout:
            m = json.loads(line)
            with self.cv:
                self.answers[m.get("id")] = (time.monotonic(), m)
                self.cv.notify_all()

    def send(self, m):
        self.p.stdin.write((json.dumps(m) + "\n").encode())
        self.p.stdin.flush()

    def call_async(self, rid, tool, args):
        self.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                   "params": {"name": tool, "arguments": args}})

    def wait(self, rid, timeout=600):
        with self.cv:
            self.cv.wait_for(lambda: rid in self.answers, timeout)
            return self.answers.get(rid)

    def call(self, rid, tool, args):
        start = time.monotonic()
        self.call_async(rid, tool, args)
        at, m = self.wait(rid)
        return at - start, m

    def peak_rss_kib(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return -1

    def close(self):
        start = time.monotonic()
        self.p.stdin.close()
        self.p.wait(timeout=60)
        return time.monotonic() - start


def text(m):
    blocks = m.get("result", {}).get("content", [])
    return " ".join(c.get("text", "") for c in blocks).replace("\n", " ")


def main():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_port}/v1"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_url = f"http://127.0.0.1:{closed.getsockname()[1]}/v1"
    closed.close()

    print(f"binary: {BIN}")
    print(f"settings: MSGBATCH_TIMEOUT_SECS={TIMEOUT_SECS}, MSGBATCH_MAX_RETRIES=2 (default)")
    print()
    print("== Fault matrix: wall time of one call (cancel_message_batch) ==")
    env = {"MSGBATCH_TIMEOUT_SECS": str(TIMEOUT_SECS)}
    s = Server(base, env)
    rows = []
    for rid, fault in enumerate(["ok", "e500", "e529", "e429", "noretry", "e401", "e403",
                                 "e404", "flat404", "badjson", "html502", "big64", "endless",
                                 "hang"], start=1):
        secs, m = s.call(rid, "cancel_message_batch", {"message_batch_id": f"msgbatch_{fault}"})
        is_err = m["result"].get("isError", False)
        rows.append((secs, fault, is_err, text(m)))
        print(f"{fault:>10}  {secs*1000:8.0f} ms  upstream attempts={Upstream.counts.get('msgbatch_' + fault, 0)}"
              f"  isError={str(is_err).lower():5}  {text(m)[:110]}")
    s.close()
    r = Server(closed_url, env)
    secs, m = r.call(1, "cancel_message_batch", {"message_batch_id": "msgbatch_refused"})
    rows.append((secs, "refused", True, text(m)))
    print(f"{'refused':>10}  {secs*1000:8.0f} ms  isError=true   {text(m)[:110]}")
    r.close()
    slowest = max(rows)
    print(f"slowest call: {slowest[1]} at {slowest[0]:.2f} s "
          f"(bound: 3 attempts x {TIMEOUT_SECS} s + backoff <= 1.5 s = {3*TIMEOUT_SECS + 1.5:.1f} s)")

    print()
    print("== Client cancel mid-call (hanging upstream, MSGBATCH_TIMEOUT_SECS=120) ==")
    s = Server(base, {"MSGBATCH_TIMEOUT_SECS": "120"})
    lat = []
    for i in range(5):
        before = len(Upstream.disconnects)
        s.call_async(100 + i, "get_message_batch", {"message_batch_id": "msgbatch_hang"})
        time.sleep(0.3)
        t0 = time.monotonic()
        s.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 100 + i}})
        while len(Upstream.disconnects) == before and time.monotonic() - t0 < 30:
            time.sleep(0.001)
        lat.append(Upstream.disconnects[-1] - t0 if len(Upstream.disconnects) > before else float("nan"))
    answered = [i for i in range(5) if (100 + i) in s.answers]
    print(f"cancel -> upstream sees the hang-up: median {statistics.median(lat)*1000:.1f} ms "
          f"(runs: {', '.join(f'{x*1000:.1f}' for x in lat)}); cancelled calls answered: {len(answered)}")
    s.close()

    print()
    print("== Peak RSS (VmHWM) ==")
    s = Server(base, env)
    s.call(1, "get_message_batch", {"message_batch_id": "msgbatch_ok"})
    idle = s.peak_rss_kib()
    s.close()
    print(f"after one normal call:          {idle/1024:6.1f} MiB")
    for fault in ["big64", "endless"]:
        s = Server(base, env)
        s.call(1, "get_message_batch", {"message_batch_id": "msgbatch_ok"})
        for i in range(3):
            s.call(2 + i, "get_message_batch", {"message_batch_id": f"msgbatch_{fault}"})
        print(f"after 3 x {fault:<7} bodies:       {s.peak_rss_kib()/1024:6.1f} MiB")
        s.close()
    s = Server(base, env)
    start = time.monotonic()
    for i in range(1000):
        s.call_async(1000 + i, "cancel_message_batch", {"message_batch_id": f"msgbatch_c{i:04d}"})
    bad = 0
    for i in range(1000):
        _, m = s.wait(1000 + i)
        if m["result"].get("isError") or m["result"]["structuredContent"]["id"] != f"msgbatch_c{i:04d}":
            bad += 1
    took = time.monotonic() - start
    print(f"after 1,000 concurrent calls:   {s.peak_rss_kib()/1024:6.1f} MiB "
          f"(all answered in {took:.2f} s; wrong or failed: {bad})")
    s.close()

    print()
    print("== Shutdown with a call in flight (hanging upstream, MSGBATCH_TIMEOUT_SECS=120) ==")
    for how in ["stdin EOF", "SIGTERM", "SIGINT"]:
        times, codes = [], []
        for i in range(7):
            s = Server(base, {"MSGBATCH_TIMEOUT_SECS": "120"})
            s.call_async(1, "get_message_batch", {"message_batch_id": "msgbatch_hang"})
            time.sleep(0.2)
            start = time.monotonic()
            if how == "stdin EOF":
                s.p.stdin.close()
            else:
                s.p.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
            s.p.wait(timeout=60)
            times.append(time.monotonic() - start)
            codes.append(s.p.returncode)
            if how != "stdin EOF":
                s.p.stdin.close()
        print(f"{how:>9} -> exit: median {statistics.median(times)*1000:6.1f} ms, "
              f"max {max(times)*1000:6.1f} ms over {len(times)} runs; exit codes {sorted(set(codes))}")
    httpd.shutdown()


if __name__ == "__main__":
    main()
