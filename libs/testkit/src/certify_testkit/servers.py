"""The sandbox and the four MCP servers as processes, wired to each other as a deployment wires them.

Shared by the proxy's and the operator's integration tests (each adds its own proxies on top).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from certify_devstack.stack import sandbox_env
from certify_testkit.processes import ServiceProcess

MCP_SERVERS = ("x402", "quote", "qr", "circular")


def x402_env(sandbox: ServiceProcess, common: dict[str, str], *, chain_reads: bool = True) -> dict[str, str]:
    """An x402 server on the sandbox facilitator; with ``chain_reads`` it reads balances and resolves lost
    settlements on the sandbox chain too."""
    wiring = sandbox_env(sandbox.url)
    env = {**common, "X402_FACILITATOR_URL": wiring["X402_FACILITATOR_URL"]}
    if chain_reads:
        env["X402_RPC_URLS"] = wiring["X402_RPC_URLS"]
    return env


@contextmanager
def mcp_servers(
    redis_env: dict[str, str], *, timeout_s: float = 240, chain_reads: bool = True
) -> Iterator[dict[str, ServiceProcess]]:
    """sandbox (facilitator, CoinGecko, NAG, chains), x402, quote, qr and circular (a new testnet key), stopped
    at the end. The MCP servers start side by side: each spends most of its start-up importing."""
    sandbox = ServiceProcess("certify_sandbox").start(timeout_s=timeout_s)
    common = {**redis_env, "CERTIFY_ENV": "test"}
    wiring = sandbox_env(sandbox.url)
    servers = {
        "sandbox": sandbox,
        "x402": ServiceProcess("certify_x402", env=x402_env(sandbox, common, chain_reads=chain_reads)),
        "quote": ServiceProcess("certify_quote", env={**common, "COINGECKO_URL": wiring["COINGECKO_URL"]}),
        "qr": ServiceProcess("certify_qr", env=common),
        "circular": ServiceProcess(
            "certify_circular",
            env={
                **common,
                "CIRCULAR_NAG_URL": wiring["CIRCULAR_NAG_URL"],
                "CIRCULAR_CEP_TESTNET_PRIVATE_KEY": secrets.token_hex(32),
            },
        ),
    }
    try:
        with ThreadPoolExecutor(len(MCP_SERVERS)) as executor:
            list(executor.map(lambda name: servers[name].start(timeout_s=timeout_s), MCP_SERVERS))
        yield servers
    finally:
        for server in reversed(list(servers.values())):
            server.stop()
