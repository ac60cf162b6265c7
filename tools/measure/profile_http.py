"""Helpers for tools/measure/profile-http.sh: a loopback upstream that answers a cancel at once, and a
client that sends N `tools/call` POSTs on one keep-alive connection and checks every answer.

  python3 profile_http.py upstream         prints its port, serves until killed
  python3 profile_http.py drive PORT N     N calls to http://127.0.0.1:PORT/mcp, one at a time
"""

import socket
import sys
import threading
import time

# The same batch as benches/http.rs answers.
BODY = (
    '{{"id":"{id}","type":"message_batch","processing_status":"canceling","request_counts":'
    '{{"processing":100,"succeeded":50,"errored":0,"canceled":0,"expired":0}},"ended_at":null,'
    '"created_at":"2026-11-28T10:00:00Z","expires_at":"2026-11-29T10:00:00Z","archived_at":null,'
    '"cancel_initiated_at":"2026-11-28T10:05:00Z","results_url":null}}'
)


def read_message(sock, buf):
    """One HTTP/1.1 message (head, body) from sock, and what is left in buf; None at EOF."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    text = head.decode("latin-1")
    length = 0
    for line in text.split("\r\n")[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length":
            length = int(value)
    while len(buf) < length:
        data = sock.recv(65536)
        if not data:
            return None
        buf += data
    return text, buf[:length], buf[length:]


def serve_upstream_connection(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while True:
        message = read_message(conn, buf)
        if message is None:
            return
        head, _, buf = message
        path = head.split("\r\n", 1)[0].split()[1]
        batch_id = path.rstrip("/").split("/")[-2]
        body = BODY.format(id=batch_id).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
            % len(body)
            + body
        )


def upstream():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve_upstream_connection, args=(conn,), daemon=True).start()


def drive(port, n):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    started = time.perf_counter()
    for i in range(n):
        batch_id = "msgbatch_01HkcTjaV5uDC8jWR4ZsDV%02d" % (i % 100)
        body = (
            '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":'
            '"cancel_message_batch","arguments":{"message_batch_id":"%s"}}}' % (i, batch_id)
        )
        sock.sendall(
            (
                "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:%d\r\ncontent-type: application/json\r\n"
                "accept: application/json, text/event-stream\r\nmcp-protocol-version: 2025-06-18\r\n"
                "content-length: %d\r\n\r\n%s" % (port, len(body), body)
            ).encode()
        )
        message = read_message(sock, buf)
        if message is None:
            sys.exit("the server closed the connection")
        head, answer, buf = message
        if not head.startswith("HTTP/1.1 200") or batch_id.encode() not in answer or (
            b'"isError":true' in answer
        ):
            sys.exit("unexpected answer: %s\n%s" % (head, answer.decode(errors="replace")))
    print("%d calls in %.2f s" % (n, time.perf_counter() - started))


if __name__ == "__main__":
    if sys.argv[1:2] == ["upstream"]:
        upstream()
    elif sys.argv[1:2] == ["drive"]:
        drive(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(__doc__)
