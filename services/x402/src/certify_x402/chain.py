"""Read-only EVM JSON-RPC checks (``eth_call`` of USDC's ``balanceOf`` and ``authorizationState``, blocks,
receipts and the EIP-3009 events).

Used only for networks with a configured RPC URL. Every call has a timeout; failures are retryable.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
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
#: keccak256("AuthorizationCanceled(address,bytes32)"), emitted by cancelAuthorization.
AUTHORIZATION_CANCELED_TOPIC = "0x1cdd46ff242716cdaa72d159d339a485b3438398348d68f09d7c8c0a59353d81"
#: keccak256("Transfer(address,address,uint256)").
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
#: How far back to look for a settlement's event (about two days of Base blocks).
LOG_LOOKBACK_BLOCKS = 100_000


def _plain(ident: Any) -> bool:
    """Whether a JSON-RPC id can be matched (a number or a string; any other value is no id of ours)."""
    return isinstance(ident, (int, str)) and not isinstance(ident, bool)


def _word(hex_value: str) -> str:
    return hex_value.lower().removeprefix("0x").rjust(64, "0")


def _authorization_state(authorizer: str, nonce: str) -> str:
    """The call data of USDC's ``authorizationState(authorizer, nonce)``."""
    return AUTHORIZATION_STATE + _word(authorizer) + _word(nonce)


def _usdc_call(network: UsdcNetwork, data: str, block: str = "latest") -> list[Any]:
    """``eth_call`` parameters of a read of the network's USDC contract at ``block``."""
    return [{"to": network.usdc_address, "data": data}, block]


@dataclass(frozen=True)
class Block:
    """A block's number and Unix timestamp."""

    number: int
    timestamp: int


@dataclass(frozen=True)
class AuthorizationEvent:
    """The event that spent an authorization's nonce: ``used`` (a transfer) or ``canceled``, and its transaction."""

    kind: str
    transaction: str


class EvmRpc:
    """JSON-RPC over one shared HTTP client."""

    def __init__(self, settings: X402Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self._ids = itertools.count(1)
        #: RPC URLs whose node answered a batch with "no batches": their calls go one by one from then on.
        self._batches_refused: set[str] = set()

    def configured(self, network: UsdcNetwork) -> bool:
        """Whether on-chain checks are available for this network."""
        return network.name in self.settings.x402_rpc_urls

    def _unavailable(self, network: UsdcNetwork, why: str) -> Failure:
        return failure(
            "rpc_unavailable",
            f"{network.name} RPC {why}",
            retryable=True,
            retry_after=self.settings.x402_retry_after_s,
        )

    async def _post(self, network: UsdcNetwork, body: Any) -> tuple[int, Any] | Failure:
        """The HTTP status and decoded JSON answer to one JSON-RPC request body (a call or a batch), or a retryable
        failure when the node cannot be reached or answers no JSON."""
        url = self.settings.x402_rpc_urls[network.name]
        try:
            response = await self.client.post(url, json=body, timeout=self.settings.x402_rpc_timeout_s)
            return response.status_code, response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return self._unavailable(network, f"failed ({type(exc).__name__})")

    @staticmethod
    def _result(answer: Any) -> tuple[bool, Any]:
        """(True, result) of one JSON-RPC response object, or (False, None) for an error or a malformed one."""
        if not isinstance(answer, dict) or "error" in answer or "result" not in answer:
            return False, None
        return True, answer["result"]

    async def call(self, network: UsdcNetwork, method: str, params: list[Any]) -> Any | Failure:
        """One JSON-RPC call; its ``result`` or a retryable failure."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        with upstream_call("x402", "evm_rpc") as outcome:
            posted = await self._post(network, body)
            if isinstance(posted, Failure):
                return posted
            answered, result = self._result(posted[1])
            if not answered:
                return self._unavailable(network, "answered an error")
            outcome["outcome"] = "ok"
            return result

    async def calls(self, network: UsdcNetwork, requests: list[tuple[str, list[Any]]]) -> list[Any | Failure] | Failure:
        """Several JSON-RPC calls as one batch request (one round trip to the node): each call's result, or its
        retryable failure when the node answered it with an error; a failure of all when the node answered none.

        A node that refuses batches (a successful HTTP answer that is one error object, as providers that disable
        them answer) gets these calls and every later batch one by one, concurrently. An HTTP error or an answer
        that is no batch is a retryable failure, and nothing is sent again."""
        url = self.settings.x402_rpc_urls[network.name]
        if url in self._batches_refused:
            return await self._one_by_one(network, requests)
        ids = [next(self._ids) for _ in requests]
        body = [
            {"jsonrpc": "2.0", "id": ident, "method": method, "params": params}
            for ident, (method, params) in zip(ids, requests, strict=True)
        ]
        with upstream_call("x402", "evm_rpc") as outcome:
            posted = await self._post(network, body)
            if isinstance(posted, Failure):
                return posted
            status, answer = posted
            refused = isinstance(answer, dict) and "error" in answer and 200 <= status < 300
            if not refused and (not isinstance(answer, list) or status >= 300):
                return self._unavailable(network, f"answered a batch with HTTP {status} and no batch answer")
            if isinstance(answer, list):
                by_id = {item["id"]: item for item in answer if isinstance(item, dict) and _plain(item.get("id"))}
                results = [self._result(by_id.get(ident)) for ident in ids]
                if all(answered for answered, _ in results):
                    outcome["outcome"] = "ok"
                unanswered = self._unavailable(network, "answered an error or left a call unanswered")
                return [result if answered else unanswered for answered, result in results]
            outcome["outcome"] = "ok"  # the node answered as it should: it has no batches
        self._batches_refused.add(url)
        return await self._one_by_one(network, requests)

    async def _one_by_one(self, network: UsdcNetwork, requests: list[tuple[str, list[Any]]]) -> list[Any | Failure]:
        return list(await asyncio.gather(*(self.call(network, method, params) for method, params in requests)))

    def _word_value(self, network: UsdcNetwork, result: Any) -> int | Failure:
        try:
            return int(str(result), 16)
        except ValueError:
            return self._unavailable(network, "answered eth_call without a word")

    async def authorization_used(
        self, network: UsdcNetwork, authorizer: str, nonce: str, block: str = "latest"
    ) -> bool | Failure:
        """``authorizationState(authorizer, nonce)`` at ``block`` (a tag or hex number): true once used or cancelled."""
        result = await self.call(
            network, "eth_call", _usdc_call(network, _authorization_state(authorizer, nonce), block)
        )
        word = result if isinstance(result, Failure) else self._word_value(network, result)
        return word if isinstance(word, Failure) else word != 0

    async def payer_state(self, network: UsdcNetwork, authorizer: str, nonce: str) -> tuple[bool, int] | Failure:
        """Whether ``(authorizer, nonce)`` is spent, and the authorizer's USDC balance: one batch request."""
        spent = _usdc_call(network, _authorization_state(authorizer, nonce))
        balance = _usdc_call(network, BALANCE_OF + _word(authorizer))
        results = await self.calls(network, [("eth_call", spent), ("eth_call", balance)])
        if isinstance(results, Failure):
            return results
        used, funds = (
            result if isinstance(result, Failure) else self._word_value(network, result) for result in results
        )
        if isinstance(used, Failure):
            return used
        if used:  # spent: the balance does not matter, even unread
            return True, funds if isinstance(funds, int) else 0
        return funds if isinstance(funds, Failure) else (False, funds)

    async def block(self, network: UsdcNetwork, tag: str) -> Block | Failure | None:
        """A block (``latest``, ``finalized``, a hex number) with its timestamp; None when the node has none."""
        result = await self.call(network, "eth_getBlockByNumber", [tag, False])
        if isinstance(result, Failure) or result is None:
            return result
        try:
            return Block(int(str(result["number"]), 16), int(str(result["timestamp"]), 16))
        except (KeyError, TypeError, ValueError):
            return failure("rpc_unavailable", "eth_getBlockByNumber answered no block", retryable=True)

    async def transfer_in(
        self, network: UsdcNetwork, tx_hash: str, payer: str, pay_to: str, value: int
    ) -> bool | Failure | None:
        """Whether transaction ``tx_hash`` succeeded and moved exactly ``value`` USDC from ``payer`` to ``pay_to``
        (a ``Transfer`` log of the USDC contract); None while it has no receipt."""
        receipt = await self.call(network, "eth_getTransactionReceipt", [tx_hash])
        if isinstance(receipt, Failure) or receipt is None:
            return receipt
        if not isinstance(receipt, dict) or str(receipt.get("status")) != "0x1":
            return False
        wanted = [TRANSFER_TOPIC, "0x" + _word(payer), "0x" + _word(pay_to)]
        for log in receipt.get("logs") or []:
            if not isinstance(log, dict) or str(log.get("address", "")).lower() != network.usdc_address.lower():
                continue
            topics = [str(topic).lower() for topic in log.get("topics") or []]
            try:
                amount = int(str(log.get("data") or "0x0"), 16)
            except ValueError:
                continue
            if topics == wanted and amount == value:
                return True
        return False

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

    async def authorization_event(
        self, network: UsdcNetwork, authorizer: str, nonce: str
    ) -> AuthorizationEvent | Failure | None:
        """The ``AuthorizationUsed`` or ``AuthorizationCanceled`` event of ``(authorizer, nonce)``, if mined."""
        latest = await self.call(network, "eth_blockNumber", [])
        if isinstance(latest, Failure):
            return latest
        first = max(int(str(latest), 16) - LOG_LOOKBACK_BLOCKS, 0)
        query = {
            "address": network.usdc_address,
            "topics": [
                [AUTHORIZATION_USED_TOPIC, AUTHORIZATION_CANCELED_TOPIC],
                "0x" + _word(authorizer),
                "0x" + _word(nonce),
            ],
            "fromBlock": hex(first),
            "toBlock": "latest",
        }
        logs = await self.call(network, "eth_getLogs", [query])
        if isinstance(logs, Failure) or not isinstance(logs, list) or not logs:
            return logs if isinstance(logs, Failure) else None
        first = logs[0]
        if not isinstance(first, dict) or not first.get("topics") or not first.get("transactionHash"):
            return failure("rpc_unavailable", "eth_getLogs answered a malformed log", retryable=True)
        kind = "canceled" if str(first["topics"][0]).lower() == AUTHORIZATION_CANCELED_TOPIC else "used"
        return AuthorizationEvent(kind, str(first["transactionHash"]))
