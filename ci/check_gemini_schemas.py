"""Checks every tool's live inputSchema with Google's official Gen AI SDK (PyPI google-genai).

The SDK's `types.FunctionDeclaration` is a strict pydantic model of a Gemini function
declaration: it refuses a `type` array (`["integer", "null"]`), `$ref`/`$defs`, `$schema` and
any keyword Gemini's Schema does not have, offline. (It accepts `anyOf` and unknown formats,
which Gemini's API may still refuse: tests/portable_schemas.rs checks those.)

Usage: check_gemini_schemas.py PATH_TO_MSGBATCH_MCP. Starts the server on stdio (pointed at a
closed loopback port: listing tools sends nothing), asks tools/list, validates each schema.
"""

import json
import os
import subprocess
import sys

from google.genai import types
from pydantic import ValidationError


def tools_list(binary):
    env = dict(os.environ, MSGBATCH_API_URL="http://127.0.0.1:9/v1", RUST_LOG="error")
    env.pop("ANTHROPIC_API_KEY", None)
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "gemini-schema-check", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        for m in messages:
            proc.stdin.write(json.dumps(m) + "\n")
            proc.stdin.flush()
        for line in proc.stdout:
            answer = json.loads(line)
            if answer.get("id") == 2:
                return answer["result"]["tools"]
        raise SystemExit("the server closed stdout without answering tools/list")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def refused(name, schema):
    """None if the SDK accepts the declaration, else the first error line."""
    try:
        types.FunctionDeclaration(name=name, description="check", parameters=schema)
        return None
    except ValidationError as e:
        first = e.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    except (ValueError, TypeError, AttributeError) as e:
        # The SDK upper-cases `type` before validating: a type array fails right there.
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    # The check must be able to fail: the shape schemars gave Option<u32> before issue 14.
    old = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
           "properties": {"wait_seconds": {"type": ["integer", "null"], "format": "uint32",
                                           "default": None}}}
    if refused("old_shape", old) is None:
        raise SystemExit("google-genai accepted a type array and $schema: this check no "
                         "longer checks anything; review ci/check_gemini_schemas.py")
    tools = tools_list(sys.argv[1])
    failures = 0
    for tool in tools:
        error = refused(tool["name"], tool["inputSchema"])
        if error is None:
            print(f"    ok: {tool['name']}")
        else:
            failures += 1
            print(f"    REFUSED: {tool['name']}: {error}")
    if failures or not tools:
        raise SystemExit(f"{failures} of {len(tools)} tool schemas refused by google-genai")
    print(f"google-genai accepts all {len(tools)} tool input schemas as Gemini function declarations")


if __name__ == "__main__":
    main()
