"""encode_payment_for_qr and the qr server's encode_x402_to_qr give byte-identical payment data."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client

from certify_testkit.processes import ServiceProcess

SHARED_FIELDS = ("eip681_uri", "qr_data", "callback_embedded", "callback_url", "network", "chain_id", "token", "pay_to")


@pytest.fixture
def qr_server() -> Iterator[ServiceProcess]:
    with ServiceProcess("certify_qr") as process:
        yield process


async def _both(x402_url: str, qr_url: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    pairs = []
    async with Client(x402_url) as x402, Client(qr_url) as qr:
        offer = await x402.call_tool(
            "create_payment_requirement",
            {"network": "base", "amount_usdc": "12.345678", "resource": "https://certify.test/v1/certify/q1"},
        )
        assert offer.structured_content is not None
        for version in ("requirements_v1", "requirements_v2"):
            for embed in (True, False):
                arguments = {
                    "payment_requirements": offer.structured_content[version],
                    "callback_url": "https://certify.test/v1/pay/q1?lang=fr&x=a b".replace(" ", "%20"),
                    "embed_callback": embed,
                }
                ours = await x402.call_tool("encode_payment_for_qr", arguments)
                theirs = await qr.call_tool("encode_x402_to_qr", arguments)
                assert ours.structured_content is not None
                assert theirs.structured_content is not None
                pairs.append((ours.structured_content, theirs.structured_content))
    return pairs


def test_the_payment_qr_data_is_byte_identical_to_the_qr_servers(
    x402_pair: list[Any], qr_server: ServiceProcess
) -> None:
    server = x402_pair[0]
    pairs = asyncio.run(_both(server.mcp_url, qr_server.mcp_url))
    assert len(pairs) == 4
    for ours, theirs in pairs:
        assert {key: ours[key] for key in SHARED_FIELDS} == {key: theirs[key] for key in SHARED_FIELDS}
        assert ours["amount_atomic"] == theirs["amount_atomic"] == "12345678"
