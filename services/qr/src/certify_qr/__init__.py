"""certify's QR MCP server: terminal QR text, PNG/SVG QR images, and EIP-681 payment QR codes."""
