"""Keys (create, revoke), per-key write limits with Retry-After, and paid retries outside the write limit."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import uuid
from typing import Any

import httpx
import pytest

from certify_proxy.cli import main
from certify_testkit.processes import wait_until

pytestmark = pytest.mark.integration


def _admin(db_url: str, *args: str) -> dict[str, Any]:
    """Run ``certify-admin`` (its main, in process) against the test database and read its JSON line."""
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        patch.setenv("DATABASE_URL", db_url)
        patch.setenv("CERTIFY_ENV", "test")
        assert main(list(args)) == 0
    return json.loads(output.getvalue().strip().splitlines()[-1])


def _new(proxy: Any, key: str, **extra: Any) -> httpx.Response:
    body = {
        "request_id": f"lim-{uuid.uuid4().hex[:10]}",
        "data": base64.b64encode(uuid.uuid4().bytes).decode(),
        **extra,
    }
    return httpx.post(proxy.url + "/v1/certify", json=body, headers={"X-API-Key": key}, timeout=30)


def test_created_keys_work_until_revoked_and_are_stored_hashed(proxy: Any, db: Any) -> None:
    created = _admin(db.url, "keys", "create", "someone")
    key = created["api_key"]
    assert _new(proxy, key).status_code == 402
    stored = db.fetch("SELECT key_hash FROM api_keys WHERE id = $1", created["id"])[0]["key_hash"]
    assert key not in stored
    assert len(stored) == 64
    assert _admin(db.url, "keys", "revoke", str(created["id"])) == {"id": created["id"], "revoked": True}

    # The proxy trusts a key it found active for API_KEY_CACHE_TTL_S (5 s): refused within that time.
    def refused() -> bool:  # polled with a read (the write limit is 10 a minute)
        answer = httpx.get(proxy.url + "/v1/status/no-such-request", headers={"X-API-Key": key}, timeout=30)
        return answer.status_code == 401

    wait_until(refused, 30, 0.25, "the revoked key is refused")
    answer = _new(proxy, key)
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_api_key")


def test_writes_over_the_limit_get_429_with_retry_after_but_paid_retries_pass(
    proxy_b: Any, stack: Any, kit: Any, db: Any
) -> None:
    key = _admin(db.url, "keys", "create", "busy")["api_key"]
    offers = [_new(proxy_b, key) for _ in range(10)]
    assert [offer.status_code for offer in offers] == [402] * 10
    refused = _new(proxy_b, key)
    assert (refused.status_code, refused.json()["code"], refused.json()["retryable"]) == (429, "rate_limited", True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    kit.fund(stack["sandbox"], "base-sepolia", kit.payer)
    offer = offers[0].json()
    paid = httpx.post(
        proxy_b.url + "/v1/certify",
        json={"request_id": offer["request_id"]},
        headers={"X-API-Key": key, "X-PAYMENT": kit.sign(offer)},
        timeout=30,
    )
    assert paid.status_code == 202, paid.text
    again = httpx.post(
        proxy_b.url + "/v1/certify",
        json={"request_id": offer["request_id"]},
        headers={"X-API-Key": key, "X-PAYMENT": kit.sign(offer)},
        timeout=30,
    )
    # The request no longer awaits payment: another payment for it is an ordinary write.
    assert (again.status_code, again.json()["code"]) == (429, "rate_limited")


def test_paid_retries_that_never_pay_have_a_limit_of_their_own(proxy_b: Any, kit: Any, db: Any) -> None:
    """Each paid retry of a request awaiting payment is verified by x402: outside the write limit, they count
    against their own (120 a minute by default), so headers that never pay cannot be sent without bound."""
    key = _admin(db.url, "keys", "create", "never-pays")["api_key"]
    offer = _new(proxy_b, key).json()
    unfunded = "0x" + "5a" * 32  # a payer without USDC: every verification refuses it
    with httpx.Client(base_url=proxy_b.url, headers={"X-API-Key": key}, timeout=30) as client:
        answers = [
            client.post(
                "/v1/certify",
                json={"request_id": offer["request_id"]},
                headers={"X-PAYMENT": kit.sign(offer, key=unfunded)},
            )
            for _ in range(121)
        ]
    refused = answers[-1]
    assert [answer.status_code for answer in answers[:120]] == [402] * 120
    assert {answer.json()["code"] for answer in answers[:120]} == {"insufficient_funds"}
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert refused.json()["message"] == "more than 120 paid retries of a request awaiting payment per minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_payment_header_that_is_no_paid_retry_does_not_lift_the_write_limit(
    proxy: Any, proxy_b: Any, kit: Any, db: Any
) -> None:
    key = _admin(db.url, "keys", "create", "junk-header")["api_key"]
    with httpx.Client(base_url=proxy_b.url, headers={"X-API-Key": key}, timeout=30) as client:
        quotes = [client.post("/v1/quote", json={"data": "cXVvdGU="}).status_code for _ in range(10)]
        assert quotes == [200] * 10
        junk = [
            client.post("/v1/quote", json={"data": "cXVvdGU="}, headers={"X-PAYMENT": "junk"}).status_code
            for _ in range(30)
        ]
        assert junk == [429] * 30
        # A well-formed payment never exempts a quote, nor a certify call for a request that does not exist;
        # a junk header on the caller's own request awaiting payment does not either. (The offer is made
        # through the proxy without a write limit; both proxies share the Redis window.)
        offer = _new(proxy, key).json()
        signed = kit.sign(offer)
        quote = client.post("/v1/quote", json={"data": "cXVvdGU="}, headers={"X-PAYMENT": signed})
        unknown = client.post("/v1/certify", json={"request_id": "no-such-request"}, headers={"X-PAYMENT": signed})
        junk_certify = client.post(
            "/v1/certify", json={"request_id": offer["request_id"]}, headers={"PAYMENT-SIGNATURE": "junk"}
        )
    assert [quote.status_code, unknown.status_code, junk_certify.status_code] == [429, 429, 429]


def test_another_clients_request_is_not_visible(proxy: Any, api: Any, db: Any) -> None:
    offer = _new(proxy, api()["X-API-Key"]).json()
    other = _admin(db.url, "keys", "create", "other")["api_key"]
    answer = httpx.get(f"{proxy.url}/v1/status/{offer['request_id']}", headers={"X-API-Key": other}, timeout=30)
    assert (answer.status_code, answer.json()["code"]) == (404, "request_not_found")


def test_reads_over_the_limit_get_429(proxy_b: Any, db: Any) -> None:
    key = _admin(db.url, "keys", "create", "reader")["api_key"]
    offer = _new(proxy_b, key).json()
    with httpx.Client(base_url=proxy_b.url, headers={"X-API-Key": key}, timeout=30) as client:
        statuses = [client.get(f"/v1/status/{offer['request_id']}").status_code for _ in range(121)]
    assert statuses == [200] * 120 + [429]
