"""The seed dialogue end to end with processes: quote → 402 → hand-signed EIP-3009 → 202 → status."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid

import httpx
import pytest

from certify_testkit.plugin import forbid_in_logs
from certify_testkit.processes import wait_until

pytestmark = pytest.mark.integration

DOCUMENT = b"Contract between Alice and Bob, signed 2026-11-22."


def _new_body(**extra: object) -> dict[str, object]:
    return {
        "request_id": f"req-{uuid.uuid4().hex[:12]}",
        "data": base64.b64encode(DOCUMENT).decode(),
        "network": "base-sepolia",
        **extra,
    }


def test_quote_prices_the_document_from_its_hash_and_size(proxy, api) -> None:
    answer = httpx.post(
        proxy.url + "/v1/quote", json={"data": base64.b64encode(DOCUMENT).decode()}, headers=api(), timeout=30
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["data_hash"] == "0x" + hashlib.sha256(DOCUMENT).hexdigest()
    assert body["data_size_bytes"] == len(DOCUMENT)
    assert body["quote"]["usdc_amount"] == "0.030000"
    assert body["quote"]["amount_atomic"] == 30000
    assert set(body["networks_supported"]) == {"base", "base-sepolia", "arbitrum", "arbitrum-sepolia"}


def test_the_seed_flow_settles_the_payment_and_queues_the_certification(proxy, stack, api, kit, db) -> None:
    body = _new_body()
    forbid_in_logs("document", DOCUMENT)
    forbid_in_logs("api key", kit.dev_key)
    with httpx.Client(base_url=proxy.url, timeout=30) as client:
        offered = client.post("/v1/certify", json=body, headers=api())
        assert offered.status_code == 402, offered.text
        offer = offered.json()
        assert offer["x402Version"] == 1
        assert offer["error"] == "payment_required"
        assert offer["accepts"][0]["network"] == "base-sepolia"
        assert offer["accepts"][0]["maxAmountRequired"] == "30000"
        header = json.loads(base64.b64decode(offered.headers["PAYMENT-REQUIRED"]))
        assert header["x402Version"] == 2
        assert header["accepts"][0]["network"] == "eip155:84532"
        assert offer["request_id"] == body["request_id"]
        assert offer["payment_link"].startswith(f"{proxy.url}/pay/{body['request_id']}?token=")
        assert set(offer["instructions"]) == {"agent", "browser", "mobile", "manual"}

        kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
        payment = kit.sign(offer)
        forbid_in_logs("payment header", payment)
        paid = client.post(
            "/v1/certify", json={"request_id": body["request_id"]}, headers=api(**{"X-PAYMENT": payment})
        )
        assert paid.status_code == 202, paid.text
        assert paid.json()["status_url"] == f"{proxy.url}/v1/status/{body['request_id']}"
        receipt = json.loads(base64.b64decode(paid.headers["X-PAYMENT-RESPONSE"]))
        assert receipt["success"] is True

        status = (client.get(f"/v1/status/{body['request_id']}", headers=api())).json()
    assert status["status"] == "payment_verified"
    assert status["certification_job"]["status"] == "queued"
    assert status["certification_job"]["attempts"] == 0
    assert status["payment"]["tx_hash"] == receipt["transaction"]
    assert status["payment"]["amount_paid_usdc"] == "0.030000"
    assert isinstance(status["payment"]["block_number"], int)
    assert status["payment"]["block_number"] > 0
    assert status["payment"]["payer"] == kit.payer.lower()
    assert [step["to"] for step in status["history"]] == [
        "initiated",
        "quoted",
        "payment_pending",
        "payment_verified",
    ]
    (row,) = db.fetch("SELECT request_key FROM certification_requests WHERE request_id = $1", body["request_id"])
    jobs = db.fetch("SELECT kind, status, payload FROM jobs WHERE dedupe_key = $1", f"certify:{row['request_key']}")
    assert [(job["kind"], job["status"]) for job in jobs] == [("certify", "queued")]
    assert json.loads(jobs[0]["payload"]) == {"request_key": row["request_key"]}


def test_metrics_count_verifications_transitions_and_mcp_calls(proxy, api) -> None:
    httpx.post(proxy.url + "/v1/certify", json=_new_body(), headers=api(), timeout=30)
    text = httpx.get(proxy.url + "/metrics", timeout=10).text
    for line in (
        'certify_state_transitions_total{to_state="payment_pending"}',
        'certify_mcp_client_calls_total{outcome="ok",server="x402",tool="create_payment_requirement"}',
        'certify_mcp_server_up{server="quote"} 1.0',
        'certify_http_request_duration_seconds_count{method="POST",path="/v1/certify",status="402"}',
    ):
        assert line in text, line


def test_each_request_is_logged_once_with_its_correlation_id(proxy, api) -> None:
    correlation = f"corr-{uuid.uuid4().hex[:16]}"
    answer = httpx.post(
        proxy.url + "/v1/quote",
        json={"data": base64.b64encode(DOCUMENT).decode()},
        headers=api(**{"X-Request-ID": correlation}),
        timeout=30,
    )
    assert answer.headers["X-Request-ID"] == correlation

    def access_lines() -> list[dict[str, object]]:
        lines = [json.loads(line) for line in proxy.logs().splitlines() if correlation in line]
        return [line for line in lines if line["logger"] == "certify.http"]

    # The access line is written once the response has gone out: wait for it rather than race it.
    wait_until(access_lines, 30, 0.05, "the access log line")  # a deadline: the machine may be busy
    assert [(line["method"], line["path"], line["status"]) for line in access_lines()] == [("POST", "/v1/quote", 200)]
