#!/usr/bin/env python3
"""Prints the tools and prompts a msgbatch-mcp binary serves, as JSON, read over stdio with the
official MCP Python SDK (PyPI `mcp`): {"tools": [{"name", "title"}...], "prompts": [names]}.

    python served_tools.py path/to/msgbatch-mcp

ci/validate-packaging.sh compares manifest.json, server.json and the README against this,
so the packaging check fails when they disagree with the binary's own tools/list. The server
is pointed at a closed loopback port: listing sends nothing upstream.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(binary):
    params = StdioServerParameters(
        command=binary,
        args=[],
        env={"MSGBATCH_API_URL": "http://127.0.0.1:9/v1", "RUST_LOG": "error"},
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            prompts = (await session.list_prompts()).prompts
    print(json.dumps({
        "tools": [{"name": t.name, "title": t.annotations.title if t.annotations else None}
                  for t in tools],
        "prompts": [p.name for p in prompts],
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
