"""x402 payments for certify: requirements, verification, settlement and wallet links over MCP."""
