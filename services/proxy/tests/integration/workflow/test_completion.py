"""A paid request ends completed: proof stored and re-verifiable, steps timed, webhook signed and delivered."""

from __future__ import annotations

import hashlib
import json
import time

import httpx
import pytest
from ecdsa import SECP256k1, VerifyingKey
from ecdsa.util import sigdecode_der

from certify_client.models import WebhookEvent, wire
from certify_testkit.processes import wait_until

pytestmark = pytest.mark.integration

TIMESTAMP_TOLERANCE_S = 300


def _hmac_sha256(key: bytes, message: bytes) -> str:
    """RFC 2104 HMAC-SHA256 written out here, independent of the proxy's implementation."""
    block = 64
    key = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).hexdigest()


def _signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["x-certify-timestamp"]
    if abs(time.time() - int(timestamp)) > TIMESTAMP_TOLERANCE_S:
        return False
    expected = "sha256=" + _hmac_sha256(secret.encode(), timestamp.encode() + b"." + body)
    return headers["x-certify-signature"] == expected


def _verify_with_python_ecdsa(proof: dict[str, object]) -> None:
    tx = proof["transaction"]
    assert isinstance(tx, dict)
    preimage = tx["blockchain"] + tx["from_address"] + tx["to_address"] + tx["payload"] + tx["nonce"] + tx["timestamp"]
    assert hashlib.sha256(preimage.encode()).hexdigest() == tx["id"] == proof["tx_id"]
    assert hashlib.sha256(tx["public_key"].encode()).hexdigest() == tx["from_address"]
    key = VerifyingKey.from_string(bytes.fromhex(tx["public_key"][2:]), curve=SECP256k1)
    assert key.verify(
        bytes.fromhex(tx["signature"]), tx["id"].encode(), hashfunc=hashlib.sha256, sigdecode=sigdecode_der
    )
    payload = json.loads(bytes.fromhex(tx["payload"]))
    assert bytes.fromhex(payload["Data"]).decode() == proof["data_hash"]


def _secret(proxy, kit) -> str:  # type: ignore[no-untyped-def]
    answer = httpx.get(f"{proxy.url}/v1/webhook-secret", headers={"X-API-Key": kit.dev_key}, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["webhook_secret"])


def test_the_seed_flow_ends_completed_with_a_proof_of_the_documents_sha256(wf_proxy, flow, receiver, kit) -> None:
    hook = receiver([])
    document = flow.document()
    before = len(flow.nag_transactions())
    request_id, paid = flow.pay(wf_proxy, document, callback_url=hook.url)
    assert paid.status_code in (200, 202), paid.text
    status = flow.wait_status(wf_proxy, request_id, "completed")

    digest = hashlib.sha256(document).hexdigest()
    assert status["certification"]["data_hash"] == "0x" + digest
    assert status["error"] is None
    assert [step["to"] for step in status["history"]] == [
        "initiated",
        "quoted",
        "payment_pending",
        "payment_verified",
        "certifying",
        "completed",
    ]
    assert all(isinstance(step["duration_s"], float) for step in status["history"][:-1])
    assert status["history"][-1]["duration_s"] is None
    assert set(status["steps"]) == {"quote", "settle", "submit", "confirm"}
    assert all(isinstance(seconds, float) and seconds >= 0 for seconds in status["steps"].values()), status["steps"]
    assert status["certification_job"]["status"] == "done"
    assert len(flow.nag_transactions()) == before + 1

    wait_until(lambda: len(hook.calls) == 1, 30, 0.1, "the webhook")
    headers, body, _ = hook.calls[0]
    secret = _secret(wf_proxy, kit)
    assert _signature_valid(secret, headers, body)
    assert not _signature_valid(secret + "x", headers, body)
    event = json.loads(body)
    assert event["event"] == "certification.completed"
    assert event["status"]["status"] == "completed"
    assert event["proof"]["data_hash"] == digest
    assert event["proof"]["tx_id"] == status["certification"]["tx_id"]
    _verify_with_python_ecdsa(event["proof"])
    # A receiver using the client library reads the same body as the API's model, byte for byte.
    parsed = WebhookEvent.model_validate_json(body)
    assert json.dumps(wire(parsed), separators=(",", ":")).encode() == body


def test_a_webhook_receiver_down_twice_gets_the_third_attempt_once(wf_proxy, flow, receiver, wf_db, kit) -> None:
    hook = receiver([503, 502])
    request_id, _ = flow.pay(wf_proxy, flow.document(), callback_url=hook.url)
    flow.wait_status(wf_proxy, request_id, "completed")

    def delivered() -> bool:
        rows = wf_db.fetch(
            "SELECT delivered FROM webhook_deliveries JOIN certification_requests USING (request_key)"
            " WHERE request_id = $1",
            request_id,
        )
        return any(row["delivered"] for row in rows)

    wait_until(delivered, 30, 0.1, "the delivery")
    rows = wf_db.fetch(
        "SELECT attempt, status_code, delivered FROM webhook_deliveries JOIN certification_requests USING (request_key)"
        " WHERE request_id = $1 ORDER BY id",
        request_id,
    )
    assert [(row["attempt"], row["status_code"], row["delivered"]) for row in rows] == [
        (1, 503, False),
        (2, 502, False),
        (3, 200, True),
    ]
    assert [status for _, _, status in hook.calls] == [503, 502, 200]
    secret = _secret(wf_proxy, kit)
    assert all(_signature_valid(secret, headers, body) for headers, body, _ in hook.calls)
    assert len({headers["x-certify-delivery"] for headers, _, _ in hook.calls}) == 3
