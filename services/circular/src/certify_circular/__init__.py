"""certify's Circular Protocol MCP server: certifies data hashes with the service wallet and reads proofs back."""
