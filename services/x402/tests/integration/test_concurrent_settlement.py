"""One authorization, 100 concurrent verify+settle callers over two x402 processes sharing Redis: one transfer."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from eth_account import Account
from mcp import Client

from certify_common.mcp_service import failure_from_result
from certify_testkit.plugin import forbid_in_logs

CALLERS = 100


async def _verify_then_settle(client: Client, header: str, requirements: dict[str, Any]) -> tuple[str, str | None]:
    arguments = {"payment_header": header, "payment_requirements": requirements}
    verdict = (await client.call_tool("verify_payment", arguments)).structured_content or {}
    if not verdict.get("is_valid"):
        return f"verify:{verdict.get('reason')}", None
    settled = await client.call_tool("settle_payment", arguments)
    failure = failure_from_result(settled)
    if failure is not None:
        return f"settle:{failure.code}", None
    content = settled.structured_content or {}
    return ("settle:replayed" if content["replayed"] else "settle:first"), content["transaction"]


async def _race(urls: list[str], header: str, requirements: dict[str, Any]) -> list[tuple[str, str | None]]:
    async with Client(urls[0]) as first, Client(urls[1]) as second:
        clients = [first, second]
        return list(
            await asyncio.gather(*(_verify_then_settle(clients[i % 2], header, requirements) for i in range(CALLERS)))
        )


async def _offer(url: str) -> dict[str, Any]:
    async with Client(url) as client:
        made = await client.call_tool(
            "create_payment_requirement",
            {"network": "base-sepolia", "amount_usdc": "0.05", "resource": "https://certify.test/v1/certify/race"},
        )
        assert not made.is_error
        return made.structured_content  # type: ignore[return-value]


def test_a_hundred_concurrent_callers_on_two_processes_settle_one_authorization_once(
    sandbox: Any, x402_pair: list[Any], pay: Callable[..., str]
) -> None:
    servers = x402_pair
    offer = asyncio.run(_offer(servers[0].mcp_url))
    account = Account.create()
    sandbox.fund("base-sepolia", account.address, 1_000_000)
    header = pay(offer["payment_required_v2"], account.key.hex())
    forbid_in_logs("payment header", header)
    forbid_in_logs("payment signature", json.loads(base64.b64decode(header))["payload"]["signature"])
    before = sandbox.stats()

    outcomes = asyncio.run(_race([server.mcp_url for server in servers], header, offer["requirements_v2"]))

    kinds = Counter(kind for kind, _ in outcomes)
    assert kinds["settle:first"] == 1, kinds
    assert set(kinds) <= {"settle:first", "settle:replayed", "verify:nonce_already_used"}, kinds
    assert len({tx for _, tx in outcomes if tx is not None}) == 1
    after = sandbox.stats()
    assert after["authorization_transfers"] - before["authorization_transfers"] == 1
    assert after["settle_calls"] - before["settle_calls"] == 1
