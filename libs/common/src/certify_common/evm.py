"""The EVM networks certify accepts USDC on, as data (wire facts: specs/x402.md).

A wrong EIP-712 domain name yields a signature that recovers to a wrong address, so name and
version travel with every payment requirement in ``extra``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UsdcNetwork:
    """One network: its names, chain id and USDC contract with its EIP-712 domain."""

    name: str
    chain_id: int
    usdc_address: str
    eip712_name: str
    eip712_version: str = "2"
    decimals: int = 6
    testnet: bool = False
    v1_name: str | None = None

    @property
    def caip2(self) -> str:
        """The x402 v2 network id, ``eip155:<chainId>``."""
        return f"eip155:{self.chain_id}"


NETWORKS: dict[str, UsdcNetwork] = {
    network.name: network
    for network in (
        UsdcNetwork("base", 8453, "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "USD Coin", v1_name="base"),
        UsdcNetwork(
            "base-sepolia",
            84532,
            "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
            "USDC",
            testnet=True,
            v1_name="base-sepolia",
        ),
        UsdcNetwork("arbitrum", 42161, "0xaf88d065e77c8cC2239327C5EDb3A432268e5831", "USD Coin"),
        UsdcNetwork("arbitrum-sepolia", 421614, "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d", "USD Coin", testnet=True),
    )
}


def lookup(network_id: str) -> UsdcNetwork | None:
    """Find a network by its certify name, its v1 name or its CAIP-2 id."""
    if network_id in NETWORKS:
        return NETWORKS[network_id]
    for network in NETWORKS.values():
        if network_id == network.caip2:
            return network
    return None
