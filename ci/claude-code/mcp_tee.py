#!/usr/bin/env python3
"""Sits between Claude Code and a stdio MCP server and records the wire: every JSON-RPC line
each way, as one JSON object a line ({"dir": "c2s"|"s2c", "t": seconds, "msg": ...}).

    python3 mcp_tee.py LOG -- COMMAND [ARGS...]

run.py puts it in front of msgbatch-mcp when a scenario says "record_mcp": true, so a check can
see what was negotiated (initialize or server/discover, the protocol version, the client's
capabilities) and every request and notification (elicitation/create, tasks/get, ...). The
server is the real binary, unchanged; its stderr passes through. Stdlib only.
"""

import json
import subprocess
import sys
import threading
import time


def main():
    log_path = sys.argv[1]
    if sys.argv[2] != "--":
        sys.exit("usage: mcp_tee.py LOG -- COMMAND [ARGS...]")
    child = subprocess.Popen(sys.argv[3:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    log = open(log_path, "a", encoding="utf-8")
    lock = threading.Lock()
    started = time.monotonic()

    def record(direction, line):
        try:
            msg = json.loads(line)
        except ValueError:
            msg = {"unparsed": line.decode("utf-8", "replace")}
        with lock:
            log.write(json.dumps({"dir": direction, "t": round(time.monotonic() - started, 3), "msg": msg}) + "\n")
            log.flush()

    def pump(src, dst, direction, close_dst):
        for line in iter(src.readline, b""):
            record(direction, line)
            dst.write(line)
            dst.flush()
        if close_dst:
            dst.close()

    to_child = threading.Thread(target=pump, args=(sys.stdin.buffer, child.stdin, "c2s", True), daemon=True)
    to_child.start()
    pump(child.stdout, sys.stdout.buffer, "s2c", False)
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
