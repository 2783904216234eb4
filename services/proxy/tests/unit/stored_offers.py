"""Stored offers (``offer_json``) for unit tests' requests, made by the proxy's own offer code."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from certify_common.contracts.quote import Breakdown, Quote
from certify_common.contracts.x402 import PaymentRequirementResult
from certify_common.evm import NETWORKS
from certify_proxy.certification import offers
from certify_proxy.certification.offer_cache import Offer
from certify_proxy.settings import ProxySettings


def stored_offer_json(
    network: str,
    requirements_v2: dict[str, Any],
    requirements_v1: dict[str, Any] | None = None,
    *,
    request_id: str = "req-1",
    valid_until: datetime | None = None,
) -> str:
    """The ``offer_json`` the proxy stores for an agent's request offered ``requirements_v2`` (and v1)."""
    chain = NETWORKS[network]
    amount = int(requirements_v2["amount"])
    usdc = str(Decimal(amount).scaleb(-chain.decimals))
    required_v2 = {"x402Version": 2, "error": "payment_required", "accepts": [requirements_v2]}
    x402 = PaymentRequirementResult(
        network=network,
        caip2=chain.caip2,
        chain_id=chain.chain_id,
        amount_atomic=str(amount),
        amount_usdc=usdc,
        pay_to=requirements_v2["payTo"],
        asset=requirements_v2.get("asset", chain.usdc_address),
        requirements_v2=requirements_v2,
        payment_required_v2=required_v2,
        payment_required_header=base64.b64encode(json.dumps(required_v2).encode()).decode(),
        requirements_v1=requirements_v1,
        payment_required_v1=None if requirements_v1 is None else {"x402Version": 1, "accepts": [requirements_v1]},
    )
    breakdown = Breakdown(
        cirx_cost_usd=usdc, service_margin_usd="0", margin_percent="0", total_usd=usdc, rounded_usdc=usdc
    )
    quote = Quote(
        usdc_amount=usdc,
        amount_atomic=amount,
        cirx_fee="4",
        cirx_price_usd="0.0044",
        data_size_bytes=1,
        breakdown=breakdown,
        valid_until=valid_until or datetime.now(UTC) + timedelta(minutes=5),
    )
    offer = Offer(quote, x402)
    links = offers.links_for(ProxySettings(), request_id, "token", keyless=False)
    return offers.made_offer(offer, offers.agent_body(request_id, offer, links)).offer_json
