"""Job payloads and the webhook body as models: old rows still read, the bytes sent stay those receivers parse."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from certify_client.models import StatusDocument, StepDurations, WebhookEvent, wire
from certify_common.contracts.circular import CertificationProof
from certify_common.contracts.x402 import PaymentRequirements
from certify_proxy.queue import deadletters
from certify_proxy.queue.payloads import CertifyPayload, SettlePayload, WebhookPayload, read_payload, request_key_of
from certify_proxy.store.models import DeadLetter, JobKind
from certify_proxy.tasks.webhook import body_of
from certify_testkit import answers

TX = "cd" * 32
REQUIREMENTS = PaymentRequirements.model_validate(
    {
        "scheme": "exact",
        "network": "eip155:84532",
        "amount": "30000",
        "payTo": "0x" + "ab" * 20,
        "maxTimeoutSeconds": 300,
    }
)


def test_a_certify_row_written_as_a_plain_object_reads_as_its_model_and_writes_back_its_keys() -> None:
    legacy = (
        '{"executed_at":null,"request_key":"r1","submission":1,"submit_started_at":"2026-11-22T03:00:00+00:00",'
        f'"submitted_at":"2026-11-22T03:00:05.250000+00:00","tx_id":"{TX}"}}'
    )
    payload = read_payload(JobKind.CERTIFY, legacy)
    assert payload == CertifyPayload(
        request_key="r1",
        submission=1,
        tx_id=TX,
        submit_started_at=datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
        submitted_at=datetime(2026, 11, 22, 3, 0, 5, 250000, tzinfo=UTC),
    )
    assert sorted(json.loads(payload.to_json())) == [
        "request_key",
        "submission",
        "submit_started_at",
        "submitted_at",
        "tx_id",
    ]
    assert CertifyPayload(request_key="r1").to_json() == '{"request_key":"r1"}'


def test_a_settlement_row_keeps_the_requirements_as_offered_in_their_wire_names() -> None:
    legacy = (
        '{"payment_header":"aGVhZGVy","payment_requirements":{"amount":"30000","maxTimeoutSeconds":300,'
        '"network":"eip155:84532","payTo":"0xab","scheme":"exact","somethingNew":[1]},"request_key":"r1"}'
    )
    payload = read_payload(JobKind.SETTLE_RECONCILE, legacy)
    assert isinstance(payload, SettlePayload)
    assert payload.payment_requirements is not None
    assert (payload.payment_requirements.pay_to, payload.payment_requirements.max_timeout_seconds) == ("0xab", 300)
    assert payload.to_json() == legacy
    assert payload.payment_requirements.wire() == json.loads(legacy)["payment_requirements"]


def test_a_row_that_does_not_fit_its_kind_reads_as_none_and_still_names_its_request() -> None:
    assert read_payload(JobKind.WEBHOOK, '{"request_key":"r1"}') is None
    assert read_payload("unknown_kind", '{"request_key":"r1"}') is None
    assert request_key_of('{"request_key":"r1","status":"completed"}') == "r1"
    assert request_key_of('{"request_id":"r1"}') is None


def test_an_admin_view_shows_a_settlement_payload_with_its_payment_header_redacted() -> None:
    stored = SettlePayload(request_key="r1", payment_header="c2VjcmV0", payment_requirements=REQUIREMENTS)
    row = DeadLetter(
        id=7, job_id=3, kind=JobKind.SETTLE_RECONCILE, payload=stored.to_json(), error="e", attempts=1, created_at=None
    )
    view = deadletters.dead_letter_view(row, {"r1": "client-1"})
    assert (view.request_key, view.request_id) == ("r1", "client-1")
    assert view.payload == SettlePayload(
        request_key="r1", payment_header="[redacted]", payment_requirements=REQUIREMENTS
    )
    webhook = row.model_copy(update={"kind": JobKind.WEBHOOK, "payload": '{"request_key":"r2","status":"failed"}'})
    assert deadletters.dead_letter_view(webhook, {}).payload == WebhookPayload(request_key="r2", status="failed")


def _status() -> StatusDocument:
    return StatusDocument(
        request_id="client-1",
        status="completed",
        status_url="https://certify.example/v1/status/client-1",
        data_hash="0x" + "ab" * 32,
        network="base-sepolia",
        quote=None,
        payment=None,
        certification=None,
        certification_job=None,
        error=None,
        history=[],
        steps=StepDurations(quote=1.0, settle=None, submit=None, confirm=None),
        created_at="2026-11-22T03:00:00+00:00",
        updated_at=None,
        completed_at=None,
        total_duration_seconds=None,
    )


def test_the_webhook_body_is_the_same_bytes_as_the_status_and_stored_proof_written_out_and_parses_back() -> None:
    # The proof is stored as the certification job stores it: sorted keys (tasks/certify.store_proof).
    stored_proof = json.dumps(
        CertificationProof.model_validate(answers.proof(TX, "ab" * 32)).model_dump(mode="json"),
        separators=(",", ":"),
        sort_keys=True,
    )
    status = _status()
    event = WebhookEvent.model_validate(
        {"event": "certification.completed", "status": wire(status), "proof": json.loads(stored_proof)}
    )
    body = body_of(event)
    by_hand = {"event": "certification.completed", "status": wire(status), "proof": json.loads(stored_proof)}
    assert body == json.dumps(by_hand, separators=(",", ":")).encode()
    assert WebhookEvent.model_validate_json(body) == event
    assert body_of(WebhookEvent(event="certification.failed", status=status, proof=None)).endswith(b',"proof":null}')
