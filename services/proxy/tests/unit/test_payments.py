"""A paid submission against a scripted x402 server: what is verified, settled, recorded and answered for
each verdict and settlement outcome, and what a replayed, concurrent or mismatched payment gets."""

from __future__ import annotations

from typing import Any

import pytest

from certify_common.errors import FailureError, failure
from certify_proxy.api.schemas import CertifyBody
from certify_proxy.api_keys import Principal
from certify_proxy.certification import payments as paying
from certify_proxy.certification.intake import Settled, current_state
from certify_proxy.certification.ownership import paid_request
from certify_proxy.certification.payments import PaidRetry
from certify_proxy.store.models import JobKind, JobStatus, utcnow

from .payment_stand import PAYER, REQUIREMENTS_V1, REQUIREMENTS_V2, SETTLED, TX, Stand, header, stand, verdict

__all__ = ["stand"]

VALID = verdict()


def _invalid(reason: str, message: str = "no") -> dict[str, Any]:
    return verdict(reason, message)


async def _refused(stand: Stand, request: Any, payment_header: str) -> FailureError:
    with pytest.raises(FailureError) as raised:
        await paying.pay(stand.runtime, request, payment_header)
    return raised.value


async def test_a_valid_payment_is_settled_recorded_and_queued_for_certification_with_its_receipt(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request()
    paid = header()

    outcome = await paying.pay(stand.runtime, request, paid)

    assert outcome.kind is Settled.ACCEPTED
    assert outcome.body.status == "payment_verified"
    assert outcome.headers == {"PAYMENT-RESPONSE": SETTLED["payment_response_header"]} | {
        "X-PAYMENT-RESPONSE": SETTLED["payment_response_header"]
    }
    assert pool.calls == [
        ("verify_payment", {"payment_header": paid, "payment_requirements": REQUIREMENTS_V1}),
        ("settle_payment", {"payment_header": paid, "payment_requirements": REQUIREMENTS_V1}),
    ]
    [payment] = await stand.payments(request.request_key)
    assert (payment.status, payment.tx_hash, payment.payer) == ("settled", TX, PAYER)
    assert await stand.job(JobKind.CERTIFY, request.request_key) is not None
    reconcile = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert reconcile is not None
    assert "payment_header" not in reconcile.payload


async def test_a_v2_payment_is_verified_against_the_v2_requirements(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request()
    await paying.pay(stand.runtime, request, header(version=2, network="eip155:84532"))
    assert pool.calls[0][1]["payment_requirements"] == REQUIREMENTS_V2


async def test_a_replayed_authorization_answers_the_current_state_without_calling_x402_again(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request()
    paid = header()
    await paying.pay(stand.runtime, request, paid)

    again = await paying.pay(stand.runtime, request, paid)

    assert again.body.status == "payment_verified"
    assert pool.tools() == ["verify_payment", "settle_payment"]


async def test_a_second_authorization_for_a_paid_request_is_never_charged(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request()
    await paying.pay(stand.runtime, request, header())

    other = await paying.pay(stand.runtime, request, header())

    assert other.body.payment.status == "settled"
    assert pool.tools() == ["verify_payment", "settle_payment"]
    assert len(await stand.payments(request.request_key)) == 1


async def test_an_authorization_that_paid_another_request_is_refused_as_used(stand) -> None:  # type: ignore[no-untyped-def]
    stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    first, second = await stand.request(), await stand.request()
    paid = header()
    await paying.pay(stand.runtime, first, paid)

    error = await _refused(stand, second, paid)

    assert error.failure.code == "nonce_already_used"
    assert await stand.payments(second.request_key) == []


@pytest.mark.parametrize(
    ("payment_header", "code"),
    [("%%%", "invalid_payload"), (header(network="ethereum-sepolia"), "network_mismatch")],
)
async def test_a_header_that_does_not_decode_or_names_another_network_is_refused_before_x402(  # type: ignore[no-untyped-def]
    stand, payment_header: str, code: str
) -> None:
    pool = stand.script(verify_payment=[VALID])
    request = await stand.request()
    assert (await _refused(stand, request, payment_header)).failure.code == code
    assert pool.calls == []


async def test_a_payment_on_another_known_network_is_refused_naming_the_requests_network(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID])
    request = await stand.request()
    error = await _refused(stand, request, header(network="base"))
    assert (error.failure.code, error.failure.details["expected"]) == ("network_mismatch", "base-sepolia")
    assert pool.calls == []


async def test_a_v1_payment_for_a_network_offered_through_v2_only_is_refused(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID])
    request = await stand.request(v1=False)
    error = await _refused(stand, request, header())
    assert error.failure.code == "network_mismatch"
    assert "v2 only" in error.failure.message
    assert pool.calls == []


async def test_a_payment_after_the_quote_expired_is_refused_without_calling_x402(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID])
    request = await stand.request(valid_for_s=-1)
    assert (await _refused(stand, request, header())).failure.code == "quote_expired"
    assert pool.calls == []


async def test_a_request_no_longer_awaiting_payment_answers_its_state_without_calling_x402(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID])
    request = await stand.request(status="failed")
    outcome = await paying.pay(stand.runtime, request, header())
    assert (outcome.kind, outcome.body.status) == (Settled.FINAL, "failed")
    assert pool.calls == []


@pytest.mark.parametrize(
    ("verdict", "code"),
    [
        (_invalid("insufficient_funds", "too poor"), "insufficient_funds"),
        (_invalid("Not A Code; DROP TABLE"), "payment_invalid"),
        ({**_invalid("unused"), "reason": None}, "payment_invalid"),
    ],
)
async def test_an_invalid_payment_is_refused_with_a_known_code_and_nothing_is_reserved(  # type: ignore[no-untyped-def]
    stand, verdict: dict[str, Any], code: str
) -> None:
    pool = stand.script(verify_payment=[verdict])
    request = await stand.request()
    assert (await _refused(stand, request, header())).failure.code == code
    assert pool.tools() == ["verify_payment"]
    assert await stand.payments(request.request_key) == []
    assert (await stand.get(request.request_key)).status == "payment_pending"


async def test_a_verification_outage_is_answered_as_such_and_nothing_is_reserved(stand) -> None:  # type: ignore[no-untyped-def]
    stand.script(verify_payment=[failure("upstream_unavailable", "x402 is down", retryable=True)])
    request = await stand.request()
    error = await _refused(stand, request, header())
    assert (error.failure.code, error.failure.retryable) == ("upstream_unavailable", True)
    assert await stand.payments(request.request_key) == []


async def test_a_nonce_used_without_a_payment_of_ours_is_settled_so_x402_can_replay_its_first_result(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[_invalid("nonce_already_used")], settle_payment=[SETTLED])
    request = await stand.request()
    outcome = await paying.pay(stand.runtime, request, header())
    assert pool.tools() == ["verify_payment", "settle_payment"]
    assert outcome.body.payment.status == "settled"


async def test_a_definite_settlement_refusal_drops_the_reservation_so_another_payment_can_be_tried(stand) -> None:  # type: ignore[no-untyped-def]
    stand.script(verify_payment=[VALID], settle_payment=[failure("insufficient_funds", "spent meanwhile")])
    request = await stand.request()

    assert (await _refused(stand, request, header())).failure.code == "insufficient_funds"
    assert await stand.payments(request.request_key) == []
    assert await stand.job(JobKind.SETTLE_RECONCILE, request.request_key) is None

    stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    outcome = await paying.pay(stand.runtime, request, header())
    assert outcome.body.payment.status == "settled"


async def test_an_unknown_settlement_outcome_is_deferred_to_the_reconciliation_job_and_answered_202(stand) -> None:  # type: ignore[no-untyped-def]
    pending = failure("settlement_pending", "not mined yet", retryable=True, transaction=TX)
    stand.script(verify_payment=[VALID], settle_payment=[pending])
    request = await stand.request()
    reserved_at = utcnow()

    outcome = await paying.pay(stand.runtime, request, header())

    assert (outcome.kind, outcome.body.status) == (Settled.ACCEPTED, "payment_pending")
    assert outcome.body.error.code == "settlement_pending"
    assert outcome.body.error.retryable is True
    [payment] = await stand.payments(request.request_key)
    assert (payment.status, payment.tx_hash) == ("pending", TX)
    job = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert job is not None
    assert job.status == JobStatus.QUEUED
    # Brought forward from the write-ahead delay (lock + call timeout) to the first retry delay.
    due_s = stand.runtime.settings.payment_lock_s + stand.runtime.settings.mcp_call_timeout_s
    assert (job.run_at.replace(tzinfo=reserved_at.tzinfo) - reserved_at).total_seconds() < due_s + 5


@pytest.mark.parametrize(
    ("status", "payment_header", "exempt"),
    [("quoted", header(), True), ("completed", header(), False), ("quoted", "%%%", False)],
)
async def test_only_a_decodable_paid_retry_of_a_request_awaiting_payment_skips_the_write_limit(  # type: ignore[no-untyped-def]
    stand, status: str, payment_header: str, exempt: bool
) -> None:
    request = await stand.request(status=status)
    caller = Principal("key:1", 1, False)
    retry = await paying.exempt_paid_retry(stand.runtime, request.request_id, payment_header, caller, None)
    assert retry.exempt is exempt
    assert retry.awaiting is exempt  # what skips the write limit may go on to x402: its verification is counted
    found = None if retry.request is None else retry.request.request_key
    assert found == (None if payment_header == "%%%" else request.request_key)  # handed on when the header decodes


async def test_a_paid_retry_of_someone_elses_request_counts_as_a_write(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request()
    stranger = Principal("key:2", 2, False)
    unknown = await paying.exempt_paid_retry(stand.runtime, request.request_id, header(), stranger, None)
    assert unknown == PaidRetry(exempt=False, request=None)


async def test_a_request_left_quoted_is_moved_to_payment_pending_by_its_reservation(stand) -> None:  # type: ignore[no-untyped-def]
    """Requests rest in payment_pending since the 402 moves them there; an older row may still rest in quoted."""
    stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request(status="quoted")
    outcome = await paying.pay(stand.runtime, request, header())
    steps = [(step.from_state, step.to) for step in outcome.body.history]
    assert steps == [("quoted", "payment_pending"), ("payment_pending", "payment_verified")]


async def test_a_replay_of_the_recorded_authorization_skips_the_write_limit_and_another_does_not(stand) -> None:  # type: ignore[no-untyped-def]
    stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request()
    paid = header()
    await paying.pay(stand.runtime, request, paid)
    caller = Principal("key:1", 1, False)

    replay = await paying.exempt_paid_retry(stand.runtime, request.request_id, paid, caller, None)
    assert (replay.exempt, replay.awaiting) == (True, False)  # answered from the record: counted by no limit
    assert not (await paying.exempt_paid_retry(stand.runtime, request.request_id, header(), caller, None)).exempt


async def test_the_paid_retry_limit_is_counted_right_before_x402_verifies_and_never_for_a_replay(stand) -> None:  # type: ignore[no-untyped-def]
    """A retry that skipped the write limit is admitted (counted against the paid-retry limit) only when its
    authorization goes to x402: a replay of a payment already reserved, still settling, is answered without it."""
    pool = stand.script(
        verify_payment=[VALID], settle_payment=[failure("facilitator_timeout", "no answer", retryable=True)]
    )
    request = await stand.request()
    paid = header()
    admitted: list[list[str]] = []

    async def admit() -> None:
        admitted.append([tool for tool, _ in pool.calls])  # what x402 was asked before the admission

    first = await paying.pay(stand.runtime, request, paid, admit)
    again = await paying.pay(stand.runtime, request, paid, admit)  # the request still awaits payment (pending)

    assert (first.kind, again.kind) == (Settled.ACCEPTED, Settled.ACCEPTED)
    assert (await stand.get(request.request_key)).status == "payment_pending"
    assert admitted == [[]]  # once, before verify_payment; the replay of the pending payment verified nothing
    assert [tool for tool, _ in pool.calls] == ["verify_payment", "settle_payment"]


async def test_a_paid_retry_over_its_limit_is_refused_before_x402_with_nothing_written(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request()

    async def over_the_limit() -> None:
        raise FailureError(failure("rate_limited", "more than 1 paid retries of a request awaiting payment per minute"))

    with pytest.raises(FailureError) as refused:
        await paying.pay(stand.runtime, request, header(), over_the_limit)

    assert refused.value.failure.code == "rate_limited"
    assert pool.calls == []
    assert await stand.payments(request.request_key) == []


async def test_a_paid_submission_uses_the_request_the_limit_check_found_only_when_it_is_the_one_named(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request()
    caller = Principal("key:1", 1, False)
    handed = request.model_copy(update={"status": "marker"})  # not a stored row: returned as it is, not re-read
    bodyless = CertifyBody(request_id=request.request_id)
    with_hash = CertifyBody(request_id=request.request_id, data_hash=request.data_hash, data_size_bytes=1)

    assert await paid_request(stand.runtime, bodyless, caller, None, handed) is handed
    assert await paid_request(stand.runtime, with_hash, caller, None, handed) is handed
    foreign = handed.model_copy(update={"owner": "key:2"})  # another owner's row is never taken for the caller's
    found = await paid_request(stand.runtime, with_hash, caller, None, foreign)
    assert (found.request_key, found.status) == (request.request_key, request.status)
    found = await paid_request(stand.runtime, bodyless, caller, None, None)
    assert (found.request_key, found.status) == (request.request_key, request.status)


async def test_the_answer_of_a_recorded_payment_is_the_state_a_status_read_gives_right_after(stand) -> None:  # type: ignore[no-untyped-def]
    stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request()

    paid = await paying.pay(stand.runtime, request, header())
    read = await current_state(stand.runtime, request)

    assert paid.kind is read.kind is Settled.ACCEPTED
    assert paid.body == read.body
    assert [step.to for step in read.body.history][-1] == "payment_verified"
