#!/usr/bin/env python3
"""Peak memory of `msgbatch-mcp serve --http` under the three loads of issue 22, on loopback.

Each scenario starts a fresh server (with a token, as a team's would run), applies a bounded
load that stops by itself, and prints the server's peak RSS (VmHWM) and what a well-behaved
client saw meanwhile. Nothing here is asserted: it prints figures, to compare two builds.

  tools/measure/http-hardening.py [BINARY]     (default: target/release/msgbatch-mcp)

Scenarios:
  heads  1,000 connections, each an unfinished ~400 KiB request head (request line, Host,
         100 `X-Pad:` lines of 4,000 bytes, never the blank line), held 3 s; /healthz probed.
  json   32 connections looping for 4 s, each posting a 1 MiB tools/call whose ignored
         argument holds ~500k small values; /healthz probed.
  stdio  the same blow-up on stdio: one 10.5 MB line of ~5M small values.
  slots  96 heads that promise a 1 MiB body and never send it, plus 96 calls that wait
         (wait_seconds 600) from one client; then another client makes 20 calls: how many
         are refused (503)?
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

TOKEN = "measure-token-0123456789abcdef"
BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/msgbatch-mcp"


def start(upstream):
    env = dict(os.environ, MSGBATCH_HTTP_TOKEN=TOKEN, MSGBATCH_API_URL=upstream, RUST_LOG="warn")
    env.pop("ANTHROPIC_API_KEY", None)
    p = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    m = re.search(r"http://([\d.]+):(\d+)/mcp", line)
    if not m:
        p.kill()
        sys.exit(f"the server did not start: {line!r}")
    return p, (m.group(1), int(m.group(2)))


def peak_mib(p):
    with open(f"/proc/{p.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def health(addr, timeout=5):
    t = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://{addr[0]}:{addr[1]}/healthz", timeout=timeout) as r:
            status = r.status
    except Exception as e:  # a refused or timed-out probe is a figure too
        status = type(e).__name__
    return f"{status} in {(time.monotonic() - t) * 1000:.0f} ms"


def post(addr, body, timeout=10):
    head = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            "MCP-Protocol-Version: 2025-06-18\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(head + body)
        return s.recv(64).split(b" ")[1].decode()
    except Exception as e:
        return type(e).__name__
    finally:
        s.close()


class Upstream:
    """A tiny upstream whose batches never end: every answer says `canceling`."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.url = "http://127.0.0.1:%d/v1" % self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self.answer, args=(c,), daemon=True).start()

    def answer(self, c):
        body = (b'{"id":"msgbatch_013Zva2CMHLNnXjNJJKqJ2EF","type":"message_batch",'
                b'"processing_status":"canceling","request_counts":{"processing":1,'
                b'"succeeded":0,"errored":0,"canceled":0,"expired":0},'
                b'"created_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-02T00:00:00Z",'
                b'"archived_at":null,"cancel_initiated_at":"2026-01-01T00:00:01Z",'
                b'"ended_at":null,"results_url":null}')
        try:
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    data = c.recv(65536)
                    if not data:
                        return
                    buf += data
                _, buf = buf.split(b"\r\n\r\n", 1)
                c.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                          b"content-length: %d\r\n\r\n" % len(body) + body)
        except OSError:
            pass
        finally:
            c.close()


def heads(up):
    p, addr = start(up.url)
    base = peak_mib(p)
    pad = b"X-Pad: " + b"p" * 4000 + b"\r\n"
    conns = []
    for _ in range(1000):
        try:
            s = socket.create_connection(addr, timeout=2)
            s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            s.setblocking(False)
            conns.append(s)
        except OSError:
            break
    for _ in range(100):
        for s in conns:
            try:
                s.send(pad)
            except OSError:
                pass
    probes = [health(addr) for _ in range(3)]
    time.sleep(3)
    probes.append(health(addr))
    peak = peak_mib(p)
    for s in conns:
        s.close()
    p.kill()
    print(f"heads: {len(conns)} connections, peak RSS {peak:.1f} MiB (idle {base:.1f}); "
          f"/healthz during: {probes}")


def json_blowup(up):
    p, addr = start(up.url)
    base = peak_mib(p)
    pad = b"0," * 499_999 + b"0"
    body = (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":'
            b'"get_message_batch","arguments":{"message_batch_id":'
            b'"msgbatch_013Zva2CMHLNnXjNJJKqJ2EF","pad":[' + pad + b"]}}}")
    stop = time.monotonic() + 4
    seen = {}
    lock = threading.Lock()

    def loop():
        while time.monotonic() < stop:
            status = post(addr, body)
            with lock:
                seen[status] = seen.get(status, 0) + 1

    threads = [threading.Thread(target=loop) for _ in range(32)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    probe = health(addr)
    for t in threads:
        t.join()
    peak = peak_mib(p)
    p.kill()
    print(f"json: {len(body) / 1048576:.2f} MiB bodies x 32 connections for 4 s, peak RSS "
          f"{peak:.1f} MiB (idle {base:.1f}); answers {seen}; /healthz during: {probe}")


def slots(up):
    p, addr = start(up.url)
    held = []
    for _ in range(96):
        s = socket.create_connection(addr, timeout=2)
        s.sendall(f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                  "Content-Type: application/json\r\nAccept: application/json, text/event-stream"
                  "\r\nContent-Length: 1048576\r\n\r\n{".encode())
        held.append(s)
    wait = (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":'
            b'"cancel_message_batch","arguments":{"message_batch_id":'
            b'"msgbatch_013Zva2CMHLNnXjNJJKqJ2EF","wait_seconds":600}}}')
    waiting = [threading.Thread(target=post, args=(addr, wait, 8), daemon=True)
               for _ in range(96)]
    for t in waiting:
        t.start()
    time.sleep(2)
    ping = b'{"jsonrpc":"2.0","id":7,"method":"ping"}'
    # Another client: another source address on loopback.
    refused = 0
    for _ in range(20):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.settimeout(5)
        try:
            s.connect(addr)
            s.sendall((f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}"
                       "\r\nContent-Type: application/json\r\nAccept: application/json, "
                       f"text/event-stream\r\nContent-Length: {len(ping)}\r\n"
                       "Connection: close\r\n\r\n").encode() + ping)
            if s.recv(64).split(b" ")[1] == b"503":
                refused += 1
        except OSError:
            refused += 1
        finally:
            s.close()
    peak = peak_mib(p)
    for s in held:
        s.close()
    p.kill()
    print(f"slots: 96 bodiless heads + 96 wait_seconds calls from one client; another client's "
          f"20 calls: {refused} refused (503 or no answer); peak RSS {peak:.1f} MiB")


def stdio(_up):
    env = dict(os.environ, MSGBATCH_API_URL="http://127.0.0.1:9/v1", RUST_LOG="warn")
    env.pop("ANTHROPIC_API_KEY", None)
    p = subprocess.Popen([BIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    p.stdin.write(b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":'
                  b'"2025-06-18","capabilities":{},"clientInfo":{"name":"m","version":"1"}}}\n')
    p.stdin.flush()
    p.stdout.readline()
    p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    pad = b"0," * 5_249_999 + b"0"
    line = (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_message_batch",'
            b'"arguments":{"message_batch_id":"msgbatch_01x","pad":[' + pad + b"]}}}\n")
    p.stdin.write(line)
    p.stdin.flush()
    answer = p.stdout.readline()[:90].decode(errors="replace")
    peak = peak_mib(p)
    p.kill()
    print(f"stdio: one {len(line) / 1e6:.1f} MB line, peak RSS {peak:.1f} MiB; answer {answer}...")


if __name__ == "__main__":
    up = Upstream()
    which = os.environ.get("SCENARIOS", "heads json stdio slots").split()
    for name in which:
        {"heads": heads, "json": json_blowup, "stdio": stdio, "slots": slots}[name](up)
