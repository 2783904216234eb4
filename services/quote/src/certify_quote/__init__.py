"""The quote MCP server: how big a document is, what CIRX costs, and what a certification costs in USDC."""
