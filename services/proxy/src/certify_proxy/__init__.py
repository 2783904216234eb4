"""certify proxy: the REST API agents and browsers call, and the MCP host behind it."""
