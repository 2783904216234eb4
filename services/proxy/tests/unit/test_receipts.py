"""The settlement's block number from the RPC's receipt: any answer that is not a receipt reads as unknown (None),
never as an error (it is looked up after the money moved, on the way to recording it)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from certify_proxy.upstream.receipts import block_number

TX = "0x" + "cd" * 32


@pytest.fixture(autouse=True)
def production_recursion_limit() -> Iterator[None]:
    """Python's default recursion limit, as the services run (a test session may run with a raised one): deeply
    nested JSON then stops ``json.loads`` with a ``RecursionError`` instead of overflowing the stack."""
    raised = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    yield
    sys.setrecursionlimit(raised)


def _node(status: int, content: bytes) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(lambda _request: httpx.Response(status, content=content)))


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


async def test_the_receipts_block_number_is_read() -> None:
    async with _node(200, _json({"jsonrpc": "2.0", "id": 1, "result": {"blockNumber": "0x1b4"}})) as client:
        assert await block_number(client, "http://node.test", TX) == 436


@pytest.mark.parametrize(
    ("status", "content"),
    [
        (200, _json(None)),
        (200, _json("a string")),
        (200, _json([{"result": {"blockNumber": "0x1"}}])),
        (200, _json({"jsonrpc": "2.0", "id": 1, "result": None})),
        (200, _json({"jsonrpc": "2.0", "id": 1, "result": {"blockNumber": "0xzz"}})),
        (200, _json({"jsonrpc": "2.0", "id": 1, "result": {"blockNumber": 7}})),
        (200, b"{not json"),
        (200, b"[" * 100_000),
        (502, b""),
    ],
    ids=["null", "string", "list", "no receipt", "bad hex", "number", "not json", "nested too deep", "http 502"],
)
async def test_an_answer_that_is_no_receipt_reads_as_unknown(status: int, content: bytes) -> None:
    async with _node(status, content) as client:
        assert await block_number(client, "http://node.test", TX) is None


async def test_nothing_is_asked_without_an_rpc_or_a_transaction() -> None:
    async with _node(500, b"") as client:
        assert await block_number(client, None, TX) is None
        assert await block_number(client, "http://node.test", None) is None
