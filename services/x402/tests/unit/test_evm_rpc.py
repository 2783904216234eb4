"""JSON-RPC batches: a payer's on-chain state in one request, and nodes that answer batches badly or not at all."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from certify_common.errors import Failure
from certify_common.evm import NETWORKS
from certify_x402.chain import AUTHORIZATION_STATE, BALANCE_OF, EvmRpc
from certify_x402.settings import X402Settings

NETWORK = NETWORKS["base-sepolia"]
PAYER = "0x" + "ab" * 20
NONCE = "0x" + "cd" * 32


def _rpc(node: Callable[[Any], Any]) -> tuple[EvmRpc, list[Any]]:
    """An EvmRpc whose node answers ``node(body)`` (``None``: HTTP 503); the bodies it was sent."""
    sent: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        answer = node(body)
        return httpx.Response(503) if answer is None else httpx.Response(200, json=answer)

    settings = X402Settings(x402_rpc_urls={"base-sepolia": "http://node.test/rpc"})
    return EvmRpc(settings, httpx.AsyncClient(transport=httpx.MockTransport(handle))), sent


def _word(value: int) -> str:
    return "0x" + hex(value)[2:].rjust(64, "0")


def _eth_call(request: dict[str, Any], used: bool, balance: int) -> dict[str, Any]:
    data = request["params"][0]["data"]
    if data.startswith(AUTHORIZATION_STATE):
        return {"jsonrpc": "2.0", "id": request["id"], "result": _word(int(used))}
    assert data.startswith(BALANCE_OF)
    return {"jsonrpc": "2.0", "id": request["id"], "result": _word(balance)}


async def test_the_payers_state_is_one_batch_request_whatever_the_order_of_the_answers() -> None:
    rpc, sent = _rpc(lambda body: [_eth_call(request, False, 70_000) for request in reversed(body)])
    assert await rpc.payer_state(NETWORK, PAYER, NONCE) == (False, 70_000)
    assert len(sent) == 1
    assert [request["method"] for request in sent[0]] == ["eth_call", "eth_call"]


async def test_a_node_that_refuses_batches_gets_the_calls_one_by_one() -> None:
    def node(body: Any) -> Any:
        if isinstance(body, list):  # as some providers do: one error object for the whole batch
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch requests disabled"}}
        return _eth_call(body, True, 5)

    rpc, sent = _rpc(node)
    assert await rpc.payer_state(NETWORK, PAYER, NONCE) == (True, 5)
    assert [isinstance(body, list) for body in sent] == [True, False, False]


async def test_an_error_answer_in_the_batch_or_an_unreachable_node_is_a_retryable_outage() -> None:
    def one_error(body: Any) -> Any:
        first, second = body
        return [_eth_call(first, False, 1), {"jsonrpc": "2.0", "id": second["id"], "error": {"code": -32000}}]

    for node in (one_error, lambda _body: None, lambda body: [{"id": request["id"]} for request in body]):
        rpc, _ = _rpc(node)
        state = await rpc.payer_state(NETWORK, PAYER, NONCE)
        assert isinstance(state, Failure)
        assert (state.code, state.retryable) == ("rpc_unavailable", True)


async def test_an_answer_that_is_no_word_is_an_outage_not_a_verdict() -> None:
    rpc, _ = _rpc(lambda body: [{"jsonrpc": "2.0", "id": request["id"], "result": "0xzz"} for request in body])
    state = await rpc.payer_state(NETWORK, PAYER, NONCE)
    assert isinstance(state, Failure)
    assert state.code == "rpc_unavailable"
