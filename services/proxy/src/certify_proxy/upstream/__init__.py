"""The MCP servers (and the EVM RPC) the proxy calls: the session pool and results."""
