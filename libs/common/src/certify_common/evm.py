"""The EVM networks certify accepts USDC on, as data (wire facts: specs/x402.md), and the EVM address rule.

A wrong EIP-712 domain name yields a signature that recovers to a wrong address, so name and
version travel with every payment requirement in ``extra``. The chain facts a wallet needs to add a
network it does not know (label, public RPC, explorer, native currency) live here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: An EVM address as x402 carries it: ``0x`` + 40 hex digits, either case (no checksum required).
ADDRESS_PATTERN = r"0x[0-9a-fA-F]{40}"
_ADDRESS = re.compile(ADDRESS_PATTERN)


def is_address(value: Any) -> bool:
    """A string that is exactly ``0x`` + 40 hex digits (a trailing newline is refused)."""
    return isinstance(value, str) and _ADDRESS.fullmatch(value) is not None


@dataclass(frozen=True)
class UsdcNetwork:
    """One network: its names, chain id, USDC contract with its EIP-712 domain, and public chain facts."""

    name: str
    chain_id: int
    usdc_address: str
    eip712_name: str
    label: str
    #: Public JSON-RPC endpoint handed to wallets (``wallet_addEthereumChain``); servers use configured RPCs.
    public_rpc_url: str
    explorer_url: str
    eip712_version: str = "2"
    decimals: int = 6
    native_decimals: int = 18
    testnet: bool = False
    v1_name: str | None = None

    @property
    def caip2(self) -> str:
        """The x402 v2 network id, ``eip155:<chainId>``."""
        return f"eip155:{self.chain_id}"


NETWORKS: dict[str, UsdcNetwork] = {
    network.name: network
    for network in (
        UsdcNetwork(
            "base",
            8453,
            "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
            "USD Coin",
            label="Base",
            public_rpc_url="https://mainnet.base.org",
            explorer_url="https://basescan.org",
            v1_name="base",
        ),
        UsdcNetwork(
            "base-sepolia",
            84532,
            "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "USDC",
            label="Base Sepolia",
            public_rpc_url="https://sepolia.base.org",
            explorer_url="https://sepolia.basescan.org",
            testnet=True,
            v1_name="base-sepolia",
        ),
        UsdcNetwork(
            "arbitrum",
            42161,
            "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
            "USD Coin",
            label="Arbitrum One",
            public_rpc_url="https://arb1.arbitrum.io/rpc",
            explorer_url="https://arbiscan.io",
        ),
        UsdcNetwork(
            "arbitrum-sepolia",
            421614,
            "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
            "USD Coin",
            label="Arbitrum Sepolia",
            public_rpc_url="https://sepolia-rollup.arbitrum.io/rpc",
            explorer_url="https://sepolia.arbiscan.io",
            testnet=True,
        ),
    )
}


def chain_parameters(network: UsdcNetwork) -> dict[str, Any]:
    """The EIP-3085 ``wallet_addEthereumChain`` parameters of a network (``chainId`` as 0x hex)."""
    return {
        "chainId": hex(network.chain_id),
        "chainName": network.label,
        "nativeCurrency": {"name": "Ether", "symbol": "ETH", "decimals": network.native_decimals},
        "rpcUrls": [network.public_rpc_url],
        "blockExplorerUrls": [network.explorer_url],
    }


def lookup(network_id: str) -> UsdcNetwork | None:
    """Find a network by its certify name, its v1 name or its CAIP-2 id."""
    if network_id in NETWORKS:
        return NETWORKS[network_id]
    for network in NETWORKS.values():
        if network_id == network.caip2:
            return network
    return None
