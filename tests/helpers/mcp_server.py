"""A real MCP server (the official SDK's low-level ``Server``) for the proxy's tests.

Its tools and their descriptions come from a JSON state file read at every request, so a test
can change a description between two listings (a rug pull) or plant an injection in the inbox;
every call it receives is appended to the file's ``calls``, so a test can see what reached it.

    python -m tests.helpers.mcp_server STATE.json stdio
    python -m tests.helpers.mcp_server STATE.json http PORT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

OBJECT = {"type": "object"}
TOOLS: list[dict[str, Any]] = [
    {"name": "read_inbox", "description": "Read the user's inbox.", "inputSchema": OBJECT},
    {
        "name": "send_email",
        "description": "Send an e-mail.",
        "inputSchema": {
            "type": "object",
            "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
            "required": ["to", "body"],
        },
    },
    {"name": "get_balance", "description": "The account balance.", "inputSchema": OBJECT},
    {"name": "get_picture", "description": "The user's avatar.", "inputSchema": OBJECT},
    {"name": "search_mail", "description": "Search the user's mail.", "inputSchema": OBJECT},
]


def initial_state(inbox: str = "Hi, lunch at noon? -- Bob") -> dict[str, Any]:
    return {"tools": TOOLS, "inbox": inbox, "calls": []}


def make_server(state_path: Path) -> Server[Any]:
    def load() -> dict[str, Any]:
        return dict(json.loads(state_path.read_text()))

    async def list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        tools = [
            types.Tool(name=t["name"], description=t["description"], input_schema=t["inputSchema"])
            for t in load()["tools"]
        ]
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        state = load()
        state["calls"].append({"name": params.name, "arguments": params.arguments or {}})
        state_path.write_text(json.dumps(state))  # noqa: ASYNC240 - a test double, one small file
        if params.name == "read_inbox":
            text = state["inbox"]
        elif params.name == "send_email":
            text = f"sent to {(params.arguments or {}).get('to')}"
        elif params.name == "get_balance":
            text = "Balance: 1000 EUR"
        elif params.name == "search_mail":
            # As many servers answer: the records as structured content and as JSON text.
            found = {"status": "ok", "items": [{"id": 7, "from": "guest", "body": state["inbox"]}]}
            return types.CallToolResult(
                content=[types.TextContent(text=json.dumps(found))], structured_content=found
            )
        elif params.name == "get_picture":
            picture = types.ImageContent(data="iVBORw0KGgo=", mime_type="image/png")
            return types.CallToolResult(content=[picture])
        else:
            return types.CallToolResult(
                content=[types.TextContent(text=f"unknown tool {params.name}")], is_error=True
            )
        return types.CallToolResult(content=[types.TextContent(text=text)])

    return Server("swisscheese-test-tools", on_list_tools=list_tools, on_call_tool=call_tool)


async def _stdio(server: Server[Any]) -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def main(argv: list[str]) -> None:
    state_path, transport = Path(argv[0]), argv[1]
    server = make_server(state_path)
    if transport == "stdio":
        anyio.run(_stdio, server)
        return
    import uvicorn

    app = server.streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=int(argv[2]), log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
