"""The MCP tools' structured results, one model per result: the contract between a server and the proxy.

The server that returns a result and the proxy's upstream client that reads it import the same model, so the
two cannot drift: a tool's output schema is generated from it, and the proxy validates what it receives
against it. Output models declare no defaults: every documented field is always present.
"""
