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
    """An EvmRpc whose node answers ``node(body)`` (JSON, or (status, JSON); ``None``: HTTP 503 without a body);
    the bodies it was sent."""
    sent: list[Any] = []

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent.append(body)
        answer = node(body)
        if answer is None:
            return httpx.Response(503)
        status, answer = answer if isinstance(answer, tuple) else (200, answer)
        return httpx.Response(status, json=answer)

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


async def test_a_node_that_refuses_batches_gets_them_one_by_one_from_then_on() -> None:
    def node(body: Any) -> Any:
        if isinstance(body, list):  # as some providers do: one error object for the whole batch
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch requests disabled"}}
        return _eth_call(body, False, 5)

    rpc, sent = _rpc(node)
    assert await rpc.payer_state(NETWORK, PAYER, NONCE) == (False, 5)
    assert await rpc.payer_state(NETWORK, PAYER, NONCE) == (False, 5)
    assert [isinstance(body, list) for body in sent] == [True, False, False, False, False]


def _error(request: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32000, "message": "busy"}}


async def test_a_spent_authorization_is_spent_even_when_its_balance_could_not_be_read() -> None:
    rpc, _ = _rpc(lambda body: [_eth_call(body[0], True, 0), _error(body[1])])
    assert await rpc.payer_state(NETWORK, PAYER, NONCE) == (True, 0)


async def test_errors_and_answers_that_are_no_batch_are_retryable_outages_sent_once() -> None:
    nodes: dict[str, Callable[[Any], Any]] = {
        "balance unanswered": lambda body: [_eth_call(body[0], False, 1), _error(body[1])],
        "spent state unanswered": lambda body: [_error(body[0]), _eth_call(body[1], False, 1)],
        "unreachable": lambda _body: None,
        "no results": lambda body: [{"jsonrpc": "2.0", "id": request["id"]} for request in body],
        "ids missing": lambda body: [_eth_call(body[0], False, 1)],
        "ids that are no ids": lambda body: [{"id": [1], "result": "0x1"}, {"id": {"a": 1}, "result": "0x1"}],
        "rate limited": lambda _body: (429, {"jsonrpc": "2.0", "id": None, "error": {"code": -32005}}),
        "an object, not a batch": lambda _body: {"jsonrpc": "2.0", "id": 1, "result": "0x1"},
    }
    for name, node in nodes.items():
        rpc, sent = _rpc(node)
        state = await rpc.payer_state(NETWORK, PAYER, NONCE)
        assert isinstance(state, Failure), name
        assert (state.code, state.retryable, len(sent)) == ("rpc_unavailable", True, 1), name


async def test_an_answer_that_is_no_word_is_an_outage_not_a_verdict() -> None:
    rpc, _ = _rpc(lambda body: [{"jsonrpc": "2.0", "id": request["id"], "result": "0xzz"} for request in body])
    state = await rpc.payer_state(NETWORK, PAYER, NONCE)
    assert isinstance(state, Failure)
    assert (state.code, state.retryable, state.retry_after) == (
        "rpc_unavailable",
        True,
        rpc.settings.x402_retry_after_s,
    )
    assert state.message == "base-sepolia RPC answered eth_call without a word"
