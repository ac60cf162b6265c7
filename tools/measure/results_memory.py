"""Peak memory and time of get_message_batch_results on a large simulated batch (issue 20).

Usage: python3 tools/measure/results_memory.py BINARY [REQUESTS]   (REQUESTS: default 90000)

Starts `BINARY mock` (loopback, ephemeral port, requests end at once), creates one batch of
REQUESTS requests, cancels nothing (it ends by itself), then starts `BINARY` as an MCP stdio
server against it and calls get_message_batch_results once without a filter and once with
result_type "errored". Prints the results file's size, the MCP server's peak RSS (VmHWM)
before and after the calls, each call's time, and the summary line the model reads.
Bounded: one batch, two calls, every read has a timeout. python3 stdlib only; Linux (/proc).
Prints figures, asserts nothing (tests/results.rs does the asserting).
"""

import json
import re
import socket
import subprocess
import sys
import time

BINARY = sys.argv[1]
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 90_000
MIB = 1024 * 1024


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB -> MiB
    return -1.0


def http(addr, method, path, body=b""):
    s = socket.create_connection(addr, timeout=120)
    try:
        head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nx-api-key: sk-measure\r\n"
                f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nConnection: close\r\n\r\n")
        s.sendall(head.encode() + body)
        size, chunks = 0, []
        while True:
            data = s.recv(1 << 16)
            if not data:
                break
            size += len(data)
            if len(chunks) < 4:
                chunks.append(data)
    finally:
        s.close()
    return size, b"".join(chunks)


class Mcp:
    def __init__(self, base):
        self.proc = subprocess.Popen(
            [BINARY], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={"MSGBATCH_API_URL": base, "RUST_LOG": "warn", "PATH": "/usr/bin:/bin"})
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "measure", "version": "0"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, msg):
        self.proc.stdin.write((json.dumps(msg) + "\n").encode())
        self.proc.stdin.flush()

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("the MCP server closed stdout")
            msg = json.loads(line)
            if msg.get("id") == self.next_id:
                return msg

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def main():
    mock = subprocess.Popen([BINARY, "mock", "--listen", "127.0.0.1:0", "--request-ms", "0",
                             "--no-seed"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        match = re.search(r"http://([0-9.]+):(\d+)", mock.stdout.readline())
        addr, prefix = (match.group(1), int(match.group(2))), "/v1"
        reqs = [{"custom_id": f"request-{i:06d}", "params": {
            "model": "claude-sonnet-4-20250514", "max_tokens": 1024,
            "messages": [{"role": "user", "content": "hi"}]}} for i in range(REQUESTS)]
        _, created = http(addr, "POST", f"{prefix}/messages/batches",
                          json.dumps({"requests": reqs}).encode())
        batch_id = json.loads(created.split(b"\r\n\r\n", 1)[1])["id"]
        for _ in range(600):
            _, got = http(addr, "GET", f"{prefix}/messages/batches/{batch_id}")
            if b'"ended"' in got:
                break
            time.sleep(0.1)
        size, _ = http(addr, "GET", f"{prefix}/messages/batches/{batch_id}/results")
        print(f"batch {batch_id}: {REQUESTS} requests, results file {size / MIB:.1f} MiB")

        mcp = Mcp(f"http://{addr[0]}:{addr[1]}{prefix}")
        print(f"MCP server after initialize: peak RSS {vm(mcp.proc.pid, 'VmHWM'):.1f} MiB")
        for args in ({"message_batch_id": batch_id},
                     {"message_batch_id": batch_id, "result_type": "errored", "limit": 50}):
            started = time.monotonic()
            answer = mcp.request("tools/call", {"name": "get_message_batch_results",
                                                "arguments": args})
            took = time.monotonic() - started
            result = answer["result"]
            text = result["content"][0]["text"]
            answer_bytes = len(json.dumps(result))
            print(f"call {json.dumps(args)}: {took:.2f} s, answer {answer_bytes} bytes, "
                  f"peak RSS {vm(mcp.proc.pid, 'VmHWM'):.1f} MiB")
            print("  " + text.splitlines()[0])
        mcp.stop()
    finally:
        mock.terminate()
        mock.wait(timeout=10)


main()
