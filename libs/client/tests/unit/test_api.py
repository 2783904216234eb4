"""`CertifyClient` answers with the API's models, and gives back exactly the JSON the API sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from certify_client import cli
from certify_client.api import CertifyApiError, CertifyClient
from certify_client.models import PaymentRequiredBody, StatusDocument, wire

STATUS: dict[str, Any] = {
    "request_id": "req-1",
    "status": "completed",
    "status_url": "http://certify.test/v1/status/req-1?token=tok",
    "data_hash": "0x" + "12" * 32,
    "network": "base-sepolia",
    "quote": {
        "usdc_amount": "0.030000",
        "amount_atomic": 30000,
        "cirx_fee": "4",
        "cirx_price_usd": "0.005",
        "data_size_bytes": 12,
        "breakdown": {
            "cirx_cost_usd": "0.02",
            "service_margin_usd": "0.01",
            "margin_percent": "50",
            "total_usd": "0.03",
            "rounded_usdc": "0.030000",
        },
        "valid_until": "2026-11-22T03:05:00+00:00",
    },
    "payment": {
        "status": "settled",
        "tx_hash": "0x" + "cd" * 32,
        "network": "base-sepolia",
        "amount_paid_usdc": "0.03",
        "settled_at": "2026-11-22T03:00:02+00:00",
        "payer": "0x" + "01" * 20,
        "block_number": 7,
    },
    "certification": {
        "tx_id": "ab" * 32,
        "block_id": "cd" * 32,
        "timestamp": "2026:11:22-03:00:05",
        "data_hash": "12" * 32,
        "cirx_fee_paid": "4",
        "verification_url": None,
        "network": "testnet",
    },
    "certification_job": {"status": "done", "attempts": 1, "next_run_at": None, "last_error": None},
    "error": None,
    "history": [
        {
            "from": None,
            "to": "initiated",
            "reason": "request received",
            "at": "2026-11-22T03:00:00+00:00",
            "duration_s": 0.2,
        },
        {
            "from": "initiated",
            "to": "completed",
            "reason": "done",
            "at": "2026-11-22T03:00:09+00:00",
            "duration_s": None,
        },
    ],
    "steps": {"quote": 0.2, "settle": 1.5, "submit": None, "confirm": None},
    "created_at": "2026-11-22T03:00:00+00:00",
    "updated_at": "2026-11-22T03:00:09+00:00",
    "completed_at": "2026-11-22T03:00:09+00:00",
    "total_duration_seconds": 9.0,
}
OFFER: dict[str, Any] = {
    "x402Version": 1,
    "error": "payment_required",
    "accepts": [],
    "request_id": "req-1",
    "status": "payment_pending",
    "quote": STATUS["quote"],
    "payment": {
        "network": "base-sepolia",
        "caip2": "eip155:84532",
        "chain_id": 84532,
        "amount_usdc": "0.030000",
        "amount_atomic": "30000",
        "pay_to": "0x" + "ab" * 20,
        "asset": "0x" + "cd" * 20,
        "requirements": {"scheme": "exact", "network": "eip155:84532"},
        "requirements_v1": None,
        "valid_until": "2026-11-22T03:05:00+00:00",
    },
    "payment_link": "http://certify.test/pay/req-1?token=tok",
    "qr_code_url": "http://certify.test/v1/qr/req-1?token=tok&format=png",
    "qr_code_base64": "iVBORw0KGgo=",
    "status_url": "http://certify.test/v1/status/req-1?token=tok",
    "instructions": {"agent": {"summary": "pay"}},
}


def _client(answers: dict[tuple[str, str], tuple[int, Any]], seen: list[httpx.Request] | None = None) -> CertifyClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        status, body = answers[(request.method, request.url.path)]
        return httpx.Response(status, json=body)

    return CertifyClient("http://certify.test", transport=httpx.MockTransport(handle))


def test_status_is_the_status_document_and_dumps_back_to_the_bytes_sent() -> None:
    async def run() -> StatusDocument:
        async with _client({("GET", "/v1/status/req-1"): (200, STATUS)}) as client:
            return await client.status("req-1")

    status = asyncio.run(run())
    assert (status.status, status.history[0].from_state, status.history[1].from_state) == (
        "completed",
        None,
        "initiated",
    )
    assert status.payment is not None
    assert status.payment.block_number == 7
    assert json.dumps(wire(status)) == json.dumps(STATUS)


def test_a_402_is_the_offer_without_the_fields_of_other_client_types_and_its_token_is_remembered() -> None:
    seen: list[httpx.Request] = []
    answers = {("POST", "/v1/certify"): (402, OFFER), ("GET", "/v1/status/req-1"): (200, STATUS)}

    async def run() -> tuple[Any, StatusDocument]:
        async with _client(answers, seen) as client:
            offer = await client.request_certification("req-1", b"document")
            return offer, await client.status("req-1")

    offer, _status = asyncio.run(run())
    assert isinstance(offer.body, PaymentRequiredBody)
    assert offer.needs_payment
    assert wire(offer.body) == OFFER
    assert "wallet_links" not in wire(offer.body)
    assert seen[-1].url.params["token"] == "tok"


def test_an_answer_that_is_not_the_document_is_a_bad_response() -> None:
    async def run() -> None:
        async with _client({("GET", "/v1/status/req-1"): (200, {"request_id": "req-1"})}) as client:
            await client.status("req-1")

    with pytest.raises(CertifyApiError) as raised:
        asyncio.run(run())
    assert (raised.value.status_code, raised.value.code) == (200, "bad_response")


def test_status_json_prints_what_the_api_sent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_client", lambda: _client({("GET", "/v1/status/req-1"): (200, STATUS)}))
    assert cli.main(["--json", "status", "req-1"]) == 0
    assert json.loads(capsys.readouterr().out) == STATUS
