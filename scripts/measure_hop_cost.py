"""What one process between a client and an upstream costs, with no work in it: for
scripts/measure-hop-cost.sh. Usage: measure_hop_cost.py RELAY_BINARY RELAY_CPUS.

A client and an upstream (threads of this process, over loopback, one keep-alive connection
each) and the relay (measure_hop_cost_relay.c) on RELAY_CPUS (a taskset list). The client sends
a small HTTP request straight to the upstream and then through the relay, in turns, and prints
both p50s and their difference: the floor of `cargo bench --bench http`'s "p50 over the
upstream" for any server between them, placed as the relay was."""

import socket
import statistics
import subprocess
import sys
import threading
import time

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
REQUEST = b"POST /v1/messages/batches/x/cancel HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n"
WARMUP, CALLS = 500, 3000


def upstream(listener):
    while True:
        conn, _ = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def serve(c=conn):
            while c.recv(65536):
                c.sendall(ANSWER)

        threading.Thread(target=serve, daemon=True).start()


def connect(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def call(s):
    t = time.perf_counter()
    s.sendall(REQUEST)
    got = b""
    while not got.endswith(b"ok"):
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed")
        got += chunk
    return (time.perf_counter() - t) * 1e6


def main():
    relay_bin, cpus = sys.argv[1], sys.argv[2]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    threading.Thread(target=upstream, args=(listener,), daemon=True).start()
    relay = subprocess.Popen(
        ["taskset", "-c", cpus, relay_bin, str(listener.getsockname()[1])],
        stdout=subprocess.PIPE,
    )
    try:
        direct, relayed = connect(listener.getsockname()[1]), connect(int(relay.stdout.readline()))
        for _ in range(WARMUP):
            call(direct)
            call(relayed)
        times = ([], [])
        for _ in range(CALLS):
            times[0].append(call(direct))
            times[1].append(call(relayed))
        d, r = (statistics.median(t) for t in times)
        print(f"  direct p50 {d:.0f} µs, through the relay {r:.0f} µs: +{r - d:.0f} µs")
    finally:
        relay.kill()


if __name__ == "__main__":
    main()
