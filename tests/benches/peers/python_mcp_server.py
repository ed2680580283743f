"""The baseline for the MCP benchmark: a server built with the official Python SDK (`mcp` 2.x
`MCPServer`, formerly FastMCP), stateless Streamable HTTP with JSON responses, with one read
tool equivalent to fintech's `whoami`. Usage: python_mcp_server.py PORT"""

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("python-baseline", log_level="WARNING")


@server.tool()
def whoami() -> dict:
    """Who the caller is and which providers are live."""
    return {"whoami": {"tenant_id": "ten_bench", "scopes": ["banking:read"], "payments_mode": "simulated"}}


server.run(transport="streamable-http", host="127.0.0.1", port=int(sys.argv[1]), stateless_http=True, json_response=True)
