"""Read-only EVM JSON-RPC checks (``eth_call`` of USDC's ``balanceOf`` and ``authorizationState``, receipts).

Used only for networks with a configured RPC URL. Every call has a timeout; failures are retryable.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from certify_common.errors import Failure, failure
from certify_common.evm import UsdcNetwork
from certify_common.metrics import upstream_call
from certify_x402.settings import X402Settings

BALANCE_OF = "0x70a08231"
AUTHORIZATION_STATE = "0xe94a0102"
#: EIP-1271 ``isValidSignature(bytes32,bytes)`` selector, also the magic value it returns for a valid signature.
EIP1271_MAGIC = "0x1626ba7e"
#: keccak256("AuthorizationUsed(address,bytes32)"), emitted by transferWithAuthorization.
AUTHORIZATION_USED_TOPIC = "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5"
#: How far back to look for a settlement's event (about two days of Base blocks).
LOG_LOOKBACK_BLOCKS = 100_000


def _word(hex_value: str) -> str:
    return hex_value.lower().removeprefix("0x").rjust(64, "0")


class EvmRpc:
    """JSON-RPC over one shared HTTP client."""

    def __init__(self, settings: X402Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self._ids = itertools.count(1)

    def configured(self, network: UsdcNetwork) -> bool:
        """Whether on-chain checks are available for this network."""
        return network.name in self.settings.x402_rpc_urls

    async def call(self, network: UsdcNetwork, method: str, params: list[Any]) -> Any | Failure:
        """One JSON-RPC call; its ``result`` or a retryable failure."""
        url = self.settings.x402_rpc_urls[network.name]
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        with upstream_call("x402", "evm_rpc") as outcome:
            try:
                response = await self.client.post(url, json=body, timeout=self.settings.x402_rpc_timeout_s)
                answer = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                return failure(
                    "rpc_unavailable",
                    f"{network.name} RPC failed ({type(exc).__name__})",
                    retryable=True,
                    retry_after=self.settings.x402_retry_after_s,
                )
            if not isinstance(answer, dict) or "error" in answer or "result" not in answer:
                return failure(
                    "rpc_unavailable",
                    f"{network.name} RPC answered an error",
                    retryable=True,
                    retry_after=self.settings.x402_retry_after_s,
                )
            outcome["outcome"] = "ok"
            return answer["result"]

    async def _eth_call_word(self, network: UsdcNetwork, data: str) -> int | Failure:
        result = await self.call(network, "eth_call", [{"to": network.usdc_address, "data": data}, "latest"])
        if isinstance(result, Failure):
            return result
        try:
            return int(str(result), 16)
        except ValueError:
            return failure("rpc_unavailable", "eth_call returned no word", retryable=True)

    async def balance_of(self, network: UsdcNetwork, owner: str) -> int | Failure:
        """USDC balance of ``owner`` in atomic units."""
        return await self._eth_call_word(network, BALANCE_OF + _word(owner))

    async def authorization_used(self, network: UsdcNetwork, authorizer: str, nonce: str) -> bool | Failure:
        """``authorizationState(authorizer, nonce)``: true once used or cancelled."""
        word = await self._eth_call_word(network, AUTHORIZATION_STATE + _word(authorizer) + _word(nonce))
        return word if isinstance(word, Failure) else word != 0

    async def has_code(self, network: UsdcNetwork, address: str) -> bool | Failure:
        """Whether a contract (for example a smart wallet) lives at ``address``."""
        code = await self.call(network, "eth_getCode", [address, "latest"])
        return code if isinstance(code, Failure) else str(code) not in ("0x", "0x0", "")

    async def eip1271_valid(self, network: UsdcNetwork, wallet: str, digest: str, signature: str) -> bool | Failure:
        """EIP-1271: does the contract at ``wallet`` accept ``signature`` for ``digest``?"""
        raw = signature.removeprefix("0x")
        padded = raw + "0" * (-len(raw) % 64)
        data = EIP1271_MAGIC + _word(digest) + _word(hex(64)) + _word(hex(len(raw) // 2)) + padded
        result = await self.call(network, "eth_call", [{"to": wallet, "data": data}, "latest"])
        return result if isinstance(result, Failure) else str(result).lower().startswith(EIP1271_MAGIC)

    async def receipt_status(self, network: UsdcNetwork, tx_hash: str) -> int | Failure | None:
        """1 (success) / 0 (reverted) once mined, None while unknown."""
        result = await self.call(network, "eth_getTransactionReceipt", [tx_hash])
        if isinstance(result, Failure) or result is None:
            return result
        return int(str(result.get("status", "0x0")), 16) if isinstance(result, dict) else None

    async def transaction_using(self, network: UsdcNetwork, authorizer: str, nonce: str) -> str | Failure | None:
        """The transaction whose ``AuthorizationUsed(authorizer, nonce)`` event shows the authorization was used."""
        latest = await self.call(network, "eth_blockNumber", [])
        if isinstance(latest, Failure):
            return latest
        first = max(int(str(latest), 16) - LOG_LOOKBACK_BLOCKS, 0)
        query = {
            "address": network.usdc_address,
            "topics": [AUTHORIZATION_USED_TOPIC, "0x" + _word(authorizer), "0x" + _word(nonce)],
            "fromBlock": hex(first),
            "toBlock": "latest",
        }
        logs = await self.call(network, "eth_getLogs", [query])
        if isinstance(logs, Failure) or not isinstance(logs, list) or not logs:
            return logs if isinstance(logs, Failure) else None
        return str(logs[0].get("transactionHash")) if isinstance(logs[0], dict) else None
