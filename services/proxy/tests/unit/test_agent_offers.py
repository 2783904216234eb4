"""An agent's 402 is rendered once per offer template and filled in per request: byte for byte the body,
header and stored columns that the models give for that request."""

from __future__ import annotations

import json
import string
from decimal import Decimal
from random import Random
from typing import Any, cast

import pytest

from certify_common.errors import Failure, failure
from certify_common.kv import MemoryKeyValue
from certify_proxy.certification import offers
from certify_proxy.certification.offer_cache import OfferCache
from certify_proxy.settings import ProxySettings
from certify_proxy.upstream.qr import Qr
from certify_proxy.upstream.quote import Quotes
from certify_proxy.upstream.x402 import X402
from certify_x402.requirements import build_offer
from services.proxy.tests.unit.test_offer_cache import Clock, Servers

PAYEE = "0x" + "ab" * 20


class RealServers(Servers):
    """The quote answer of ``Servers``; the x402 server's requirement as its own ``build_offer`` makes it."""

    async def call(self, server: str, tool: str, arguments: dict[str, Any], **extra: Any) -> Any:
        if tool != "create_payment_requirement":
            return await super().call(server, tool, arguments, **extra)
        self.calls.append((tool, arguments))
        offer = build_offer(
            network_name=arguments["network"],
            enabled=["base-sepolia", "arbitrum-sepolia"],
            amount_atomic=int(arguments["amount_atomic"]),
            pay_to=PAYEE,
            resource=arguments["resource"],
            description=arguments["description"],
            mime_type="application/json",
            max_timeout_seconds=300,
        )
        assert not isinstance(offer, Failure)
        return {
            "network": offer.network.name,
            "caip2": offer.network.caip2,
            "chain_id": offer.network.chain_id,
            "amount_atomic": str(offer.amount_atomic),
            "amount_usdc": str(Decimal(offer.amount_atomic).scaleb(-offer.network.decimals)),
            "pay_to": offer.pay_to,
            "asset": offer.network.usdc_address,
            "requirements_v2": offer.requirements_v2,
            "payment_required_v2": offer.payment_required_v2,
            "payment_required_header": offer.payment_required_header,
            "requirements_v1": offer.requirements_v1,
            "payment_required_v1": offer.payment_required_v1,
        }


ID_CHARS = string.ascii_letters + string.digits + "._:-"
TOKEN_CHARS = string.ascii_letters + string.digits + "-_"


def _stack(clock: Clock, servers: Servers) -> tuple[OfferCache, offers.AgentOffers, ProxySettings]:
    pool = cast(Any, servers)
    settings = ProxySettings(public_base_url="https://certify.example")
    cache = OfferCache(Quotes(pool), X402(pool), MemoryKeyValue(), settings, clock=clock)
    return cache, offers.AgentOffers(cache, settings), settings


async def _by_the_models(
    cache: OfferCache, settings: ProxySettings, network: str, request_id: str, token: str, size: int, keyless: bool
) -> offers.MadeOffer:
    offer = await cache.offer(network, request_id, size)
    assert not isinstance(offer, Failure)
    links = offers.links_for(settings, request_id, token, keyless=keyless)
    pool = cast(Any, None)
    body = await offers.payment_required_body(X402(pool), Qr(pool), request_id, "agent", offer, links)
    assert isinstance(body, offers.PaymentRequiredBody)
    return offers.made_offer(offer, body)


@pytest.mark.parametrize("keyless", [False, True])
async def test_a_filled_template_is_byte_for_byte_the_offer_the_models_make(keyless: bool) -> None:
    clock = Clock()
    cache, agents, settings = _stack(clock, RealServers(clock))
    rng = Random(402)
    for size in (0, 1, 380, 1_048_576):
        request_id = "".join(rng.choice(ID_CHARS) for _ in range(rng.randint(1, 64)))
        token = "".join(rng.choice(TOKEN_CHARS) for _ in range(32))
        filled = await agents.offer("base-sepolia", request_id, token, size, keyless=keyless)
        assert filled == await _by_the_models(cache, settings, "base-sepolia", request_id, token, size, keyless)
        body = json.loads(filled.body)
        assert (body["request_id"], body["quote"]["data_size_bytes"]) == (request_id, size)
        assert ("token=" + token in body["status_url"]) is keyless
        stored = json.loads(filled.offer_json)
        assert stored["body"] == body
        assert stored["header"] == stored["x402"]["payment_required_header"] == filled.header
        assert json.loads(filled.quote_json)["data_size_bytes"] == size


async def test_the_template_is_rendered_once_per_offer_template_and_anew_at_a_new_price(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock()
    servers = RealServers(clock)
    _, agents, _ = _stack(clock, servers)
    rendered = 0
    real = offers.agent_body

    def counted(*args: Any) -> Any:
        nonlocal rendered
        rendered += 1
        return real(*args)

    monkeypatch.setattr(offers, "agent_body", counted)
    for number in range(3):
        await agents.offer("base-sepolia", f"r{number}", "t", 10, keyless=False)
    await agents.offer("base-sepolia", "keyless", "t", 10, keyless=True)
    assert rendered == 2  # one per kind of caller
    servers.amount = 45000
    clock.now += 600  # the quote ran out: a new template, a new rendering at the new price
    later = await agents.offer("base-sepolia", "r9", "t", 10, keyless=False)
    assert rendered == 3
    assert later.amount_atomic == 45000
    assert json.loads(later.body)["payment"]["amount_atomic"] == "45000"


async def test_an_unavailable_quote_server_is_the_failure_of_the_offer() -> None:
    clock = Clock()
    servers = Servers(clock)
    servers.quote_failure = failure("upstream_unavailable", "quote server down", retryable=True)
    _, agents, _ = _stack(clock, servers)
    answer = await agents.offer("base-sepolia", "r1", "t", 10, keyless=False)
    assert answer == servers.quote_failure
