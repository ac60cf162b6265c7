#!/usr/bin/env python3
"""A scripted stand-in for the Anthropic Messages API, for driving the real Claude Code offline.

Serves POST /v1/messages (SSE streaming when the request asks for it, JSON otherwise) and
POST /v1/messages/count_tokens on loopback, answers each turn of the conversation from a script
file, and records every request it received (one JSON object a line) so that a check can read
the system prompt, the tools offered and the tool results Claude Code sent back.

Stdlib only. Started by run.py; by hand:

    python3 fake_model.py --script SCENARIO.json --record requests.jsonl --port-file port

The script is the scenario's "turns" list (see README.md). Which turn answers a request is the
number of assistant messages already in the request's conversation, so a retried request gets
the same answer and a side request (a title, a summary: no tools offered) never uses up a turn.
"""

import argparse
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL = "claude-sonnet-4-5"


def blocks(content):
    """The content blocks of a message (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def text_of(block):
    """All the text inside a block, however nested (tool_result content is a list or a string)."""
    if isinstance(block, str):
        return block
    if isinstance(block, list):
        return "\n".join(text_of(b) for b in block)
    if not isinstance(block, dict):
        return ""
    parts = []
    for key in ("text", "content"):
        if key in block:
            parts.append(text_of(block[key]))
    if block.get("type") == "tool_reference":
        parts.append(block.get("tool_name", ""))
    return "\n".join(p for p in parts if p)


def last_tool_result(messages):
    """The last tool_result block of the conversation, or None."""
    for message in reversed(messages):
        for block in reversed(blocks(message.get("content"))):
            if isinstance(block, dict) and block.get("type") == "tool_result":
                return block
    return None


def tool_references(block):
    """The tool names a ToolSearch result loaded (its tool_reference blocks), in order."""
    found = []

    def walk(b):
        if isinstance(b, list):
            for x in b:
                walk(x)
        elif isinstance(b, dict):
            if b.get("type") == "tool_reference" and "tool_name" in b:
                found.append(b["tool_name"])
            walk(b.get("content"))

    walk(block)
    return found


def substitute(value, env):
    """Fills {{NAME}} in every string of value from env (match groups, first_tool_reference)."""
    if isinstance(value, str):
        whole = re.fullmatch(r"\{\{(\w+)\}\}", value)
        if whole and whole.group(1) in env:
            return env[whole.group(1)]
        return re.sub(r"\{\{(\w+)\}\}", lambda m: str(env.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    return value


def last_user_text(messages):
    """The text of the conversation's last user message (a tool_result's text included): where
    Claude Code puts what arrives between turns, e.g. a background task's notification."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return text_of(blocks(message.get("content")))
    return ""


def choose(turn, result, user_text=""):
    """The answer a turn gives: the first of its alternatives whose condition holds.

    A turn is an answer ({"text": ...} or {"tool_use": {...}}), or {"cases": [answer...]} where
    an answer may carry "if_result_matches": REGEX (searched in the last tool_result's text;
    its groups become {{1}}, {{2}}, ... in the answer), "if_message_matches": REGEX (the same,
    in the last user message's text) or "if_result_error": true/false.
    """
    cases = turn.get("cases", [turn])
    text = text_of(result) if result is not None else ""
    env = {}
    if result is not None:
        refs = tool_references(result)
        if refs:
            env["first_tool_reference"] = refs[0]
    for case in cases:
        local = dict(env)
        pattern = case.get("if_result_matches")
        if pattern is not None:
            m = re.search(pattern, text, re.S)
            if not m:
                continue
            local.update({str(i): g for i, g in enumerate(m.groups(), 1) if g is not None})
        pattern = case.get("if_message_matches")
        if pattern is not None:
            m = re.search(pattern, user_text, re.S)
            if not m:
                continue
            local.update({str(i): g for i, g in enumerate(m.groups(), 1) if g is not None})
        if "if_result_error" in case:
            is_error = bool(result is not None and result.get("is_error"))
            if is_error != bool(case["if_result_error"]):
                continue
        return substitute(case, local)
    return {"text": f"[fake model: no case of this turn matched the last tool result: {text[:500]}"
                    f" / the last user message: {user_text[:500]}]"}


def content_of(answer, turn_index):
    """The assistant content blocks and stop reason of one answer."""
    if "tool_use" in answer:
        use = answer["tool_use"]
        block = {
            "type": "tool_use",
            "id": f"toolu_fake_{turn_index:02d}",
            "name": use["name"],
            "input": use.get("input", {}),
        }
        out = []
        if answer.get("text"):
            out.append({"type": "text", "text": answer["text"]})
        return out + [block], "tool_use"
    return [{"type": "text", "text": answer.get("text", "")}], "end_turn"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-model/1"

    def log_message(self, fmt, *args):  # quiet: the record file is the log
        pass

    def record(self, entry):
        with self.server.lock:
            with open(self.server.record_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry) + "\n")

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.send_header("request-id", "req_fake")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.record({"method": "GET", "path": self.path})
        self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "fake model"}})

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        path = self.path.split("?")[0]
        if path.endswith("/messages/count_tokens"):
            self.record({"method": "POST", "path": path, "body": body})
            self.send_json(200, {"input_tokens": 1000})
            return
        if not path.endswith("/messages"):
            self.record({"method": "POST", "path": path, "body": body})
            self.send_json(404, {"type": "error", "error": {"type": "not_found_error", "message": "fake model"}})
            return
        messages = body.get("messages", [])
        main = bool(body.get("tools"))
        turn_index = sum(1 for m in messages if m.get("role") == "assistant") if main else None
        if main and turn_index < len(self.server.turns):
            answer = choose(self.server.turns[turn_index], last_tool_result(messages),
                            last_user_text(messages))
        elif main:
            answer = {"text": "[fake model: the script has no more turns]"}
        else:
            answer = {"text": self.server.side_answer}
        content, stop = content_of(answer, turn_index or 0)
        self.record({"method": "POST", "path": path, "turn": turn_index, "body": body, "answer": content})
        message = {
            "id": f"msg_fake_{turn_index if turn_index is not None else 'side'}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", MODEL),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 100, "output_tokens": 20,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }
        if not body.get("stream"):
            self.send_json(200, message)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", "req_fake")
        self.send_header("connection", "close")
        self.end_headers()

        def event(kind, data):
            self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

        start = dict(message, content=[], stop_reason=None)
        start["usage"] = dict(message["usage"], output_tokens=1)
        event("message_start", {"type": "message_start", "message": start})
        for i, block in enumerate(content):
            if block["type"] == "text":
                event("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": {"type": "text", "text": ""}})
                event("content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "text_delta", "text": block["text"]}})
            else:
                event("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": dict(block, input={})})
                event("content_block_delta", {"type": "content_block_delta", "index": i,
                                              "delta": {"type": "input_json_delta",
                                                        "partial_json": json.dumps(block["input"])}})
            event("content_block_stop", {"type": "content_block_stop", "index": i})
        event("message_delta", {"type": "message_delta",
                                "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": 20}})
        event("message_stop", {"type": "message_stop"})
        self.wfile.flush()
        self.close_connection = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", required=True, help="scenario JSON (its 'turns')")
    parser.add_argument("--record", required=True, help="JSONL file every request is appended to")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with open(args.script, encoding="utf-8") as f:
        scenario = json.load(f)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.turns = scenario["turns"]
    server.side_answer = scenario.get("side_answer", "ok")
    server.record_path = args.record
    server.lock = threading.Lock()
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        import os
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"fake model on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
