"""Peak memory of `msgbatch-mcp mock` under issue 11's reproductions (item 6), for one binary.

Usage: python3 measure_simulator_memory.py BINARY [LABEL]

Each scenario runs against a fresh simulator (`mock --listen 127.0.0.1:0 --request-ms 0
--no-seed`: batches end as soon as they are created, so their results can be downloaded), and
reports the server's peak RSS (VmHWM), its RSS and open file descriptors after the scenario, and
what the client saw. Loopback only, bounded loops, python3 stdlib only. Linux (/proc).
Reports figures, asserts nothing: tests/simulator_limits.rs does that.
"""

import json
import os
import re
import resource
import socket
import subprocess
import sys
import time

BINARY = sys.argv[1]
LABEL = sys.argv[2] if len(sys.argv) > 2 else os.path.basename(BINARY)
MIB = 1024 * 1024
HEADERS = "x-api-key: sk-measure\r\nanthropic-version: 2023-06-01\r\n"


class Mock:
    def __init__(self):
        self.proc = subprocess.Popen(
            [BINARY, "mock", "--listen", "127.0.0.1:0", "--request-ms", "0", "--no-seed"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"http://([0-9.]+):(\d+)", line)
        if not match:
            raise SystemExit(f"no address from the mock: {line!r}")
        self.addr = (match.group(1), int(match.group(2)))

    def status(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) // 1024  # kB -> MB (MiB)
        return -1

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def exchange(addr, head, body=b"", timeout=120):
    """One request with Connection: close; returns (status, body text)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall((head + f"\r\nHost: x\r\n{HEADERS}Connection: close\r\n\r\n").encode())
        try:
            s.sendall(body)
        except OSError:
            pass  # answered (and closed) before the whole body was sent
        chunks = []
        while True:
            try:
                data = s.recv(1 << 16)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        s.close()
    text = b"".join(chunks).decode("utf-8", "replace")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/") else 0
    return status, text.split("\r\n\r\n", 1)[-1]


def post(addr, body):
    head = f"POST /v1/messages/batches HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
    return exchange(addr, head, body)


def error_kind(text):
    try:
        return json.loads(text)["error"]["type"]
    except Exception:
        return "?"


def request_item(custom_id, model):
    return {"custom_id": custom_id, "params": {"model": model, "max_tokens": 1024,
            "messages": [{"role": "user", "content": "hi"}]}}


def scenario_huge_model(mock):
    model = "m" * (30 * MIB)
    body = json.dumps({"requests": [request_item("a", model)]}).encode()
    seen = {}
    for _ in range(20):
        status, text = post(mock.addr, body)
        key = f"{status} {error_kind(text) if status != 200 else 'created'}"
        seen[key] = seen.get(key, 0) + 1
    return ", ".join(f"{n} x {k}" for k, n in seen.items())


def scenario_zeros(mock):
    # Just under the old 32 MiB body limit, so that the old simulator parses it whole.
    n = (32 * MIB - 32) // 2
    body = b'{"requests":[' + b"0," * (n - 1) + b"0]}"
    status, text = post(mock.addr, body)
    return f"{len(body) / MIB:.1f} MiB body -> {status} {error_kind(text)}"


def scenario_unread_downloads(mock):
    # 10,000 requests (the old limit) with long custom IDs and models: ~7 MB of results.
    model = "claude-" + "x" * 190
    requests = [request_item(f"{i:05d}-" + "c" * 58, model) for i in range(10_000)]
    status, text = post(mock.addr, json.dumps({"requests": requests}).encode())
    if status != 200:
        return f"create failed: {status} {text[:200]}"
    batch_id = json.loads(text)["id"]
    sockets = []
    for _ in range(40):
        s = socket.create_connection(mock.addr, timeout=30)
        s.sendall(f"GET /v1/messages/batches/{batch_id}/results HTTP/1.1\r\nHost: x\r\n{HEADERS}\r\n".encode())
        sockets.append(s)
    time.sleep(5)  # let the server produce what it will; nobody reads
    rss = mock.status("VmRSS")
    for s in sockets:
        s.close()
    return f"40 downloads of batch {batch_id[:14]}… left unread 5 s (RSS then {rss} MB)"


def scenario_half_open(mock, count=2000):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 256)), hard))
    sockets = []
    for _ in range(count):
        try:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(mock.addr)
            sockets.append(s)
        except OSError:
            break
    time.sleep(2)
    fds_soon = mock.fds()
    time.sleep(13)  # past the 10 s header-read timeout
    fds_later = mock.fds()
    for s in sockets:
        s.close()
    return f"{len(sockets)} connections that send nothing: server fds {fds_soon} after 2 s, {fds_later} after 15 s"


SCENARIOS = [
    ("20 creates with a 30 MiB model", scenario_huge_model),
    ("32 MiB body of {\"requests\":[0,0,…]}", scenario_zeros),
    ("40 unread result downloads", scenario_unread_downloads),
    ("2,000 half-open connections", scenario_half_open),
]


def main():
    print(f"== {LABEL}: {BINARY}")
    print(f"{'scenario':40} {'peak RSS':>9} {'RSS after':>10} {'fds':>5}  what the client saw")
    for name, run in SCENARIOS:
        mock = Mock()
        try:
            seen = run(mock)
            print(f"{name:40} {mock.status('VmHWM'):>6} MB {mock.status('VmRSS'):>7} MB {mock.fds():>5}  {seen}",
                  flush=True)
        finally:
            mock.stop()


if __name__ == "__main__":
    main()
