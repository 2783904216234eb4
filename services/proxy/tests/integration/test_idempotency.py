"""request_id idempotency, and one authorization submitted 50 times at once over two proxies: one settlement."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from certify_testkit import mcp_calls

pytestmark = pytest.mark.integration


def _body(**extra: Any) -> dict[str, Any]:
    return {
        "request_id": f"idem-{uuid.uuid4().hex[:12]}",
        "data": base64.b64encode(secrets.token_bytes(32)).decode(),
        **extra,
    }


def test_a_replayed_new_request_body_gets_the_same_offer_and_writes_nothing(proxy: Any, api: Any, db: Any) -> None:
    body = _body(network="base-sepolia")
    first = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30)
    before = db.counts()
    again = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30)
    assert (first.status_code, again.status_code) == (402, 402)
    assert again.json() == first.json()
    assert again.headers["PAYMENT-REQUIRED"] == first.headers["PAYMENT-REQUIRED"]
    assert db.counts() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"data": base64.b64encode(secrets.token_bytes(32)).decode()}, "data_hash"),
        ({"network": "arbitrum-sepolia"}, "network"),
        ({"callback_url": "https://93.184.215.14/hook"}, "callback_url"),
        ({"client_type": "browser"}, "client_type"),
        ({"file_name": "other.pdf"}, "file_name"),
    ],
    ids=["data", "network", "callback_url", "client_type", "file_name"],
)
def test_the_same_request_id_with_any_different_field_is_a_conflict_naming_it(
    proxy: Any, api: Any, db: Any, change: dict[str, str], field: str
) -> None:
    body = _body(network="base-sepolia")
    assert httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).status_code == 402
    before = db.counts()
    answer = httpx.post(proxy.url + "/v1/certify", json={**body, **change}, headers=api(), timeout=30)
    assert (answer.status_code, answer.json()["code"]) == (409, "request_conflict")
    assert answer.json()["details"]["fields"] == [field]
    assert db.counts() == before


def test_a_hash_only_replay_with_a_different_declared_size_is_a_conflict(proxy: Any, api: Any) -> None:
    body = {"request_id": f"idem-{uuid.uuid4().hex[:12]}", "data_hash": "ab" * 32, "data_size_bytes": 100}
    assert httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).status_code == 402
    same = httpx.post(proxy.url + "/v1/certify", json={**body, "client_type": "agent"}, headers=api(), timeout=30)
    other = httpx.post(proxy.url + "/v1/certify", json={**body, "data_size_bytes": 101}, headers=api(), timeout=30)
    assert same.status_code == 402  # the default client type spelled out is the same request
    assert (other.status_code, other.json()["details"]["fields"]) == (409, ["data_size_bytes"])


def test_an_expired_quote_is_requoted_with_a_new_offer(proxy: Any, api: Any, db: Any) -> None:
    body = _body(network="base-sepolia")
    first = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).json()
    # Age the stored quote, as five minutes passing would.
    db.execute(
        "UPDATE certification_requests SET quote_valid_until = now() - interval '1 minute' WHERE request_id = $1",
        body["request_id"],
    )
    again = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30)
    assert again.status_code == 402
    # The new offer is the current one of the price period (shared by new requests): valid for at least
    # OFFER_MIN_VALIDITY_S (120 s by default) more, and stored in place of the expired one.
    renewed = datetime.fromisoformat(again.json()["payment"]["valid_until"])
    assert renewed >= datetime.now(UTC) + timedelta(seconds=100)
    stored = db.fetch("SELECT quote_valid_until FROM certification_requests WHERE request_id = $1", body["request_id"])
    assert stored[0]["quote_valid_until"] == renewed
    assert first["request_id"] == again.json()["request_id"]
    steps = [
        row["to_state"]
        for row in db.fetch(
            "SELECT t.to_state FROM state_transitions t JOIN certification_requests USING (request_key)"
            " WHERE request_id = $1 ORDER BY t.id",
            body["request_id"],
        )
    ]
    assert steps == ["initiated", "quoted", "payment_pending", "quoted", "payment_pending"]


def test_a_paid_request_replayed_reports_its_state(proxy: Any, stack: Any, api: Any, kit: Any) -> None:
    body = _body(network="base-sepolia")
    offer = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).json()
    kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
    payment = kit.sign(offer)
    paid = httpx.post(
        proxy.url + "/v1/certify",
        json={"request_id": body["request_id"]},
        headers=api(**{"X-PAYMENT": payment}),
        timeout=30,
    )
    assert paid.status_code == 202
    replayed_body = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30)
    replayed_payment = httpx.post(
        proxy.url + "/v1/certify",
        json={"request_id": body["request_id"]},
        headers=api(**{"X-PAYMENT": payment}),
        timeout=30,
    )
    assert (replayed_body.status_code, replayed_body.json()["status"]) == (202, "payment_verified")
    assert (replayed_payment.status_code, replayed_payment.json()["payment"]) == (202, paid.json()["payment"])


async def test_fifty_concurrent_submissions_of_one_authorization_over_two_proxies_settle_once(
    proxy: Any, proxy_b: Any, stack: Any, api: Any, kit: Any, db: Any
) -> None:
    body = _body(network="base-sepolia")
    async with httpx.AsyncClient(timeout=120) as client:
        offer = (await client.post(proxy.url + "/v1/certify", json=body, headers=api())).json()
        await asyncio.to_thread(kit.fund, stack["sandbox"], "base-sepolia", kit.payer)
        payment = kit.sign(offer)
        stats_url = stack["sandbox"].url + "/_control/usdc/stats"
        transfers_before = (await client.get(stats_url)).json()["authorization_transfers"]
        answers = await asyncio.gather(
            *(
                client.post(
                    (proxy.url, proxy_b.url)[i % 2] + "/v1/certify",
                    json={"request_id": body["request_id"]},
                    headers=api(**{"X-PAYMENT": payment}),
                )
                for i in range(50)
            )
        )
        transfers_after = (await client.get(stats_url)).json()["authorization_transfers"]
    assert sorted({answer.status_code for answer in answers}) == [202]
    assert {answer.json()["payment"]["tx_hash"] for answer in answers} == {answers[0].json()["payment"]["tx_hash"]}
    assert transfers_after - transfers_before == 1
    rows = await asyncio.to_thread(
        db.fetch,
        "SELECT count(*) AS n FROM payments JOIN certification_requests USING (request_key) WHERE request_id = $1",
        body["request_id"],
    )
    assert rows == [{"n": 1}]


def test_prefer_wait_answers_200_with_the_final_status_once_the_request_is_final(
    proxy: Any, stack: Any, api: Any, kit: Any, db: Any
) -> None:
    body = _body(network="base-sepolia")
    offer = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).json()
    kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
    payment = kit.sign(offer)
    paid_headers = api(**{"X-PAYMENT": payment, "Prefer": "wait=1"})
    first = httpx.post(
        proxy.url + "/v1/certify", json={"request_id": body["request_id"]}, headers=paid_headers, timeout=30
    )
    assert (first.status_code, first.json()["status"]) == (202, "payment_verified")
    # Stand in for the certification worker (the next issue): the request reaches a final state.
    db.execute(
        "UPDATE certification_requests SET status = 'failed', error_code = 'certification_failed', "
        "error_message = 'stand-in', error_retryable = false, completed_at = now() WHERE request_id = $1",
        body["request_id"],
    )
    final = httpx.post(
        proxy.url + "/v1/certify", json={"request_id": body["request_id"]}, headers=paid_headers, timeout=30
    )
    assert final.status_code == 200
    assert final.json()["status"] == "failed"
    assert final.json()["error"] == {
        "code": "certification_failed",
        "message": "stand-in",
        "retryable": False,
        "retry_after": None,
    }
    assert final.json()["total_duration_seconds"] >= 0


async def test_an_authorization_settled_by_a_proxy_that_died_before_recording_it_is_recorded_not_paid_twice(
    proxy: Any, stack: Any, api: Any, kit: Any
) -> None:
    body = _body(network="base-sepolia")
    async with httpx.AsyncClient(timeout=60) as client:
        offer = (await client.post(proxy.url + "/v1/certify", json=body, headers=api())).json()
        await asyncio.to_thread(kit.fund, stack["sandbox"], "base-sepolia", kit.payer)
        payment = kit.sign(offer)
        stats_url = stack["sandbox"].url + "/_control/usdc/stats"
        before = (await client.get(stats_url)).json()["authorization_transfers"]
        # What a proxy killed between settle and its database commit leaves behind: a settled authorization.
        settled = await mcp_calls.call(
            stack["x402"].mcp_url,
            "settle_payment",
            {"payment_header": payment, "payment_requirements": offer["payment"]["requirements_v1"]},
        )
        assert not settled.is_error
        answer = await client.post(
            proxy.url + "/v1/certify", json={"request_id": body["request_id"]}, headers=api(**{"X-PAYMENT": payment})
        )
        after = (await client.get(stats_url)).json()["authorization_transfers"]
    assert answer.status_code == 202, answer.text
    assert answer.json()["payment"]["tx_hash"] == settled.structured_content["transaction"]
    assert after - before == 1


def test_a_settlement_left_pending_is_accepted_and_queued_without_a_second_transfer(
    proxy: Any, stack: Any, api: Any, kit: Any
) -> None:
    sandbox = stack["sandbox"].url
    body = _body(network="base-sepolia")
    offer = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).json()
    kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
    headers = api(**{"X-PAYMENT": kit.sign(offer)})
    before = httpx.get(sandbox + "/_control/usdc/stats", timeout=10).json()["authorization_transfers"]
    httpx.put(sandbox + "/_control/usdc/settlement-pending", json={"enabled": True}, timeout=10).raise_for_status()
    try:
        pending = httpx.post(
            proxy.url + "/v1/certify", json={"request_id": body["request_id"]}, headers=headers, timeout=30
        )
    finally:
        httpx.put(sandbox + "/_control/usdc/settlement-pending", json={"enabled": False}, timeout=10).raise_for_status()
    # The client is not failed: the payment is recorded as pending and a settle job reconciles it
    # (tests/integration/workflow runs that job; here no worker runs).
    assert pending.status_code == 202, pending.text
    assert pending.json()["payment"]["status"] == "pending"
    assert (pending.json()["error"]["code"], pending.json()["error"]["retryable"]) == ("settlement_pending", True)
    retried = httpx.post(
        proxy.url + "/v1/certify", json={"request_id": body["request_id"]}, headers=headers, timeout=30
    )
    assert retried.status_code == 202, retried.text
    assert retried.json()["payment"]["status"] == "pending"
    stats = httpx.get(sandbox + "/_control/usdc/stats", timeout=10).json()
    assert stats["authorization_transfers"] - before == 1


def test_a_paid_retry_whose_body_names_other_data_is_a_conflict(proxy: Any, api: Any, kit: Any, db: Any) -> None:
    body = _body(network="base-sepolia")
    offer = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).json()
    before = db.counts()
    changed = {**body, "data": base64.b64encode(b"a different document").decode()}
    answer = httpx.post(
        proxy.url + "/v1/certify", json=changed, headers=api(**{"X-PAYMENT": kit.sign(offer)}), timeout=30
    )
    assert (answer.status_code, answer.json()["code"]) == (409, "request_conflict")
    assert db.counts() == before


def test_a_second_authorization_for_a_paid_request_is_not_settled(proxy: Any, stack: Any, api: Any, kit: Any) -> None:
    sandbox = stack["sandbox"].url
    body = _body(network="base-sepolia")
    offer = httpx.post(proxy.url + "/v1/certify", json=body, headers=api(), timeout=30).json()
    kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
    paid_body = {"request_id": body["request_id"]}
    first = httpx.post(
        proxy.url + "/v1/certify", json=paid_body, headers=api(**{"X-PAYMENT": kit.sign(offer)}), timeout=30
    )
    before = httpx.get(sandbox + "/_control/usdc/stats", timeout=10).json()["settle_calls"]
    second = httpx.post(
        proxy.url + "/v1/certify", json=paid_body, headers=api(**{"X-PAYMENT": kit.sign(offer)}), timeout=30
    )
    after = httpx.get(sandbox + "/_control/usdc/stats", timeout=10).json()["settle_calls"]
    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json()["payment"] == first.json()["payment"]
    assert after == before
