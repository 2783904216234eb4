"""The payment page's server side: the view its script reads, the escaped HTML, the asset allow-list."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from certify_client.models import StatusDocument, wire
from certify_common.evm import NETWORKS
from certify_proxy.api import paypage
from certify_proxy.store.models import CertificationRequest
from services.proxy.tests.unit.stored_offers import stored_offer_json

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
PAY_TO = "0x" + "ab" * 20


def _requirements(network: str) -> dict[str, Any]:
    usdc = NETWORKS[network]
    return {
        "scheme": "exact",
        "network": usdc.caip2,
        "amount": "30000",
        "asset": usdc.usdc_address,
        "payTo": PAY_TO,
        "maxTimeoutSeconds": 300,
        "extra": {"name": usdc.eip712_name, "version": usdc.eip712_version},
    }


def _request(status: str = "payment_pending", network: str = "base-sepolia", **extra: Any) -> CertificationRequest:
    values: dict[str, Any] = {
        "request_id": "req-1",
        "status": status,
        "fingerprint": "f" * 64,
        "data_hash": "0x" + "12" * 32,
        "data_size_bytes": 2048,
        "network": network,
        "client_type": "mobile",
        "file_name": "contract.pdf",
        "public_token": "secret-token",
        "amount_atomic": 30000,
        "quote_valid_until": NOW + timedelta(minutes=5),
        "offer_json": stored_offer_json(network, _requirements(network), valid_until=NOW + timedelta(minutes=5)),
        "created_at": NOW,
        "updated_at": NOW,
        **extra,
    }
    return CertificationRequest(**values)


STATUS = StatusDocument.model_validate(
    {
        "request_id": "req-1",
        "status": "certifying",
        "status_url": "http://127.0.0.1:8080/v1/status/req-1",
        "data_hash": "0x" + "12" * 32,
        "network": "base-sepolia",
        "quote": None,
        "payment": {
            "status": "settled",
            "tx_hash": "0x" + "cd" * 32,
            "network": "base-sepolia",
            "payer": "0x" + "01" * 20,
            "amount_paid_usdc": "0.030000",
            "settled_at": NOW.isoformat(),
            "block_number": 7,
        },
        "certification": {
            "tx_id": "ab" * 32,
            "block_id": "cd" * 32,
            "timestamp": "2026:11:22-03:00:05",
            "data_hash": "12" * 32,
            "cirx_fee_paid": None,
            "verification_url": None,
            "network": "testnet",
        },
        "certification_job": {"status": "queued", "attempts": 0, "next_run_at": None, "last_error": None},
        "error": None,
        "history": [{"from": None, "to": "initiated", "reason": "request received", "at": None, "duration_s": None}],
        "steps": {"quote": None, "settle": None, "submit": None, "confirm": None},
        "created_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
        "completed_at": None,
        "total_duration_seconds": None,
    }
)


def _view(request: CertificationRequest) -> dict[str, Any]:
    """The page's JSON, as the route sends it."""
    return wire(paypage.page_view(request, STATUS, NOW))


def test_the_view_carries_the_typed_data_domain_of_the_network() -> None:
    view = _view(_request(network="arbitrum-sepolia"))
    assert view["typed_data"]["domain"] == {
        "name": "USD Coin",
        "version": "2",
        "chainId": 421614,
        "verifyingContract": NETWORKS["arbitrum-sepolia"].usdc_address,
    }
    assert [field["name"] for field in view["typed_data"]["types"]["TransferWithAuthorization"]] == [
        "from",
        "to",
        "value",
        "validAfter",
        "validBefore",
        "nonce",
    ]
    assert view["chain"]["chainId"] == "0x66eee"
    assert view["accepted"] == _requirements("arbitrum-sepolia")
    assert view["max_timeout_s"] == 300
    assert view["server_time"] == int(NOW.timestamp())


def test_the_view_counts_down_the_quote_and_knows_when_payment_is_awaited() -> None:
    pending = _view(_request())
    assert pending["awaiting_payment"] is True
    assert pending["quote"]["expires_in_s"] == 300
    assert pending["quote"]["amount_atomic"] == "30000"
    late = _view(_request(quote_valid_until=NOW - timedelta(seconds=10)))
    assert late["quote"]["expires_in_s"] == -10
    paid = _view(_request(status="certifying"))
    assert paid["awaiting_payment"] is False


def test_the_view_shows_the_link_holder_no_history_jobs_or_payer() -> None:
    view = _view(_request())
    assert "history" not in view
    assert "certification_job" not in view
    assert "payer" not in view["payment"]
    assert "secret-token" not in json.dumps(view)


def test_the_html_escapes_what_the_client_named() -> None:
    view = paypage.page_view(_request(file_name='<script>alert("x")</script>.pdf'), STATUS, NOW)
    html = paypage.render_page(view)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;.pdf" in html
    assert "2.0 KiB (2048 bytes)" in html
    assert "0.030000 USDC" in html
    assert "Base Sepolia" in html
    # No inline script or handler: the CSP allows scripts from the origin only.
    assert re.findall(r"<script[^>]*>", html) == [
        '<script src="/pay-assets/eip1193.js" defer>',
        '<script src="/pay-assets/pay.js" defer>',
    ]
    assert not re.search(r"\son[a-z]+=", html)


def test_only_the_listed_assets_are_served() -> None:
    script = paypage.asset("pay.js")
    assert script is not None
    assert script[1].startswith("text/javascript")
    assert b"eth_signTypedData_v4" in script[0]
    wallet = paypage.asset("eip1193.js")
    assert wallet is not None
    assert b"wallet_addEthereumChain" in wallet[0]
    for name in ("pay.html", "../paypage.py", "settings.py", ""):
        assert paypage.asset(name) is None


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_every_network_can_be_added_to_a_wallet(network: str) -> None:
    chain = paypage.chain_parameters(network)
    assert int(chain["chainId"], 16) == NETWORKS[network].chain_id
    assert chain["rpcUrls"][0].startswith("https://")
    assert chain["nativeCurrency"]["decimals"] == 18
