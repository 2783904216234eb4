"""The settlement reconciliation job against a scripted x402 server: a paid submission whose settlement did not
conclude is finished (settled and certified, or failed) with the same authorization, retried while its outcome
is unknown, and never keeps the payment header once the outcome is recorded."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from certify_common.contracts.x402 import SettleResult
from certify_common.errors import Failure, FailureError, failure, require
from certify_proxy.certification import payments as paying
from certify_proxy.certification.intake import Settled
from certify_proxy.queue import runner as jobrunner
from certify_proxy.queue.payloads import SettlePayload
from certify_proxy.queue.worker import Done, JobContext, Retry
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import transaction
from certify_proxy.store.jobs import JOBS
from certify_proxy.store.models import CertificationRequest, JobKind, utcnow
from certify_proxy.tasks.settle import SettlementJob, cancel_reservation, record_settlement
from certify_proxy.upstream.x402 import X402

from .payment_stand import REQUIREMENTS_V1, SETTLED, TX, ScriptedX402, Stand, header, stand, verdict

__all__ = ["stand"]

VALID = verdict()
UNKNOWN = failure("facilitator_timeout", "no answer", retryable=True)


async def _deferred(stand: Stand, callback_url: str | None = None) -> tuple[CertificationRequest, str]:
    """A request whose paid submission got an unknown settlement outcome (202, reconciliation job queued)."""
    stand.script(verify_payment=[VALID], settle_payment=[UNKNOWN])
    request = await stand.request(callback_url=callback_url)
    paid = header()
    outcome = await paying.pay(stand.runtime, request, paid)
    assert outcome.kind is Settled.ACCEPTED
    return request, paid


async def _claim(stand: Stand) -> jobrunner.ClaimedJob:
    """Claim the reconciliation job as a worker would once its delay passed (other due jobs stay claimed)."""
    later = utcnow() + timedelta(hours=1)
    while True:
        claimed = await jobrunner.claim(stand.runtime.sessions, "w", 30, postgres=False, now=later)
        assert claimed is not None
        if claimed.kind == JobKind.SETTLE_RECONCILE:
            return claimed


async def _run(stand: Stand) -> Any:
    """Run one attempt of the reconciliation job."""
    return await SettlementJob([1.0]).run(JobContext(stand.runtime, await _claim(stand), "w"))


async def _payload(stand: Stand, request_key: str) -> dict[str, Any]:
    job = await stand.job(JobKind.SETTLE_RECONCILE, request_key)
    assert job is not None
    return dict(json.loads(job.payload))


async def test_a_deferred_settlement_that_concludes_is_recorded_certified_and_its_header_forgotten(stand) -> None:  # type: ignore[no-untyped-def]
    request, paid = await _deferred(stand)
    assert (await _payload(stand, request.request_key))["payment_header"] == paid
    pool = stand.script(settle_payment=[SETTLED])

    outcome = await _run(stand)

    assert isinstance(outcome, Done)
    assert pool.calls == [("settle_payment", {"payment_header": paid, "payment_requirements": REQUIREMENTS_V1})]
    [payment] = await stand.payments(request.request_key)
    assert (payment.status, payment.tx_hash) == ("settled", TX)
    row = await stand.get(request.request_key)
    assert (row.status, row.error_code, row.error_retryable) == ("payment_verified", None, None)
    assert await stand.job(JobKind.CERTIFY, request.request_key) is not None
    job = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert job is not None
    assert job.status == "done"
    assert await _payload(stand, request.request_key) == {"request_key": request.request_key}


async def test_an_outcome_still_unknown_is_retried_with_the_header_kept(stand) -> None:  # type: ignore[no-untyped-def]
    request, paid = await _deferred(stand)
    stand.script(settle_payment=[failure("rpc_unavailable", "the chain cannot be read", retryable=True)])

    outcome = await _run(stand)

    assert outcome == Retry("rpc_unavailable: the chain cannot be read")
    [payment] = await stand.payments(request.request_key)
    assert payment.status == "pending"
    assert (await stand.get(request.request_key)).status == "payment_pending"
    assert (await _payload(stand, request.request_key))["payment_header"] == paid


async def test_a_definite_refusal_fails_the_request_tells_its_webhook_and_forgets_the_header(stand) -> None:  # type: ignore[no-untyped-def]
    request, _ = await _deferred(stand, callback_url="https://client.example/hook")
    stand.script(settle_payment=[failure("authorization_canceled", "expired unused on chain")])

    outcome = await _run(stand)

    assert isinstance(outcome, Done)
    [payment] = await stand.payments(request.request_key)
    assert payment.status == "failed"
    row = await stand.get(request.request_key)
    assert (row.status, row.error_code, row.error_retryable) == ("failed", "authorization_canceled", False)
    assert row.error_message == "expired unused on chain"
    assert await stand.kinds_queued(request.request_key) == [JobKind.SETTLE_RECONCILE, JobKind.WEBHOOK]
    assert await _payload(stand, request.request_key) == {"request_key": request.request_key}


async def test_a_settlement_that_concluded_at_once_closes_its_write_ahead_job_with_nothing_left_to_run(stand) -> None:  # type: ignore[no-untyped-def]
    stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    request = await stand.request()
    await paying.pay(stand.runtime, request, header())

    job = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert job is not None
    assert job.status == "done"
    assert await _payload(stand, request.request_key) == {"request_key": request.request_key}
    later = utcnow() + timedelta(hours=1)
    claimed = await jobrunner.claim(stand.runtime.sessions, "w", 30, postgres=False, now=later)
    assert claimed is not None
    assert claimed.kind == JobKind.CERTIFY  # the certification; no reconciliation is due


class _ClaimWhileSettling(ScriptedX402):
    """x402 whose settle first runs ``meanwhile`` (what another process does while the settle is in flight)."""

    def __init__(self, meanwhile: Callable[[], Awaitable[None]], **answers: list[dict[str, Any] | Failure]) -> None:
        super().__init__(**answers)
        self.meanwhile = meanwhile

    async def call(self, server: str, tool: str, arguments: dict[str, Any], **_: Any) -> dict[str, Any] | Failure:
        if tool == "settle_payment":
            await self.meanwhile()
        return await super().call(server, tool, arguments)


def _scripted(stand: Stand, pool: ScriptedX402) -> None:
    stand.runtime.pool, stand.runtime.x402 = pool, X402(pool)


async def test_a_reconciliation_claimed_while_the_paid_post_settles_ends_without_calling_x402(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request()
    claimed: list[jobrunner.ClaimedJob] = []

    async def claim() -> None:  # a worker whose clock passed the write-ahead delay takes the job mid-settle
        claimed.append(await _claim(stand))

    _scripted(stand, _ClaimWhileSettling(claim, verify_payment=[VALID], settle_payment=[SETTLED]))
    await paying.pay(stand.runtime, request, header())

    held = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert held is not None
    assert held.status == "running"  # recording left the held job to its worker
    assert await _payload(stand, request.request_key) == {"request_key": request.request_key}
    pool = stand.script(settle_payment=[SETTLED])
    outcome = await SettlementJob([1.0]).run(JobContext(stand.runtime, claimed[0], "w"))

    assert isinstance(outcome, Done)
    assert pool.calls == []
    job = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert job is not None
    assert job.status == "done"


@pytest.mark.parametrize("answer", [SETTLED, failure("authorization_canceled", "expired unused on chain")])
async def test_an_outcome_recorded_by_the_paid_post_while_the_job_settled_is_not_recorded_again(  # type: ignore[no-untyped-def]
    stand, answer: dict[str, Any] | Failure
) -> None:
    request, _ = await _deferred(stand)
    claimed = await _claim(stand)  # the job reads the payment pending, then asks x402 again

    async def recorded_by_the_post() -> None:
        async with transaction(stand.runtime.sessions) as session:
            locked = require(await repo.get_request(session, request.request_key, for_update=True), "request")
            payment = require(await repo.payment_for_request(session, request.request_key), "payment")
            settled = SettleResult.model_validate(SETTLED)
            await record_settlement(session, stand.runtime.settings, locked, payment, settled, None, "paid")

    _scripted(stand, _ClaimWhileSettling(recorded_by_the_post, settle_payment=[answer]))
    outcome = await SettlementJob([1.0]).run(JobContext(stand.runtime, claimed, "w"))

    assert isinstance(outcome, Done)
    [payment] = await stand.payments(request.request_key)
    assert payment.status == "settled"
    row = await stand.get(request.request_key)
    assert (row.status, row.error_code) == ("payment_verified", None)
    assert await stand.kinds_queued(request.request_key) == [JobKind.SETTLE_RECONCILE, JobKind.CERTIFY]
    job = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert job is not None
    assert job.status == "done"
    assert await _payload(stand, request.request_key) == {"request_key": request.request_key}


async def test_a_new_authorization_waits_for_a_running_reconciliation_then_gets_the_job_started_over(stand) -> None:  # type: ignore[no-untyped-def]
    """A settle that outlasts the write-ahead delay lets a worker take the reconciliation job mid-settle; when that
    settle is then refused, the reservation is dropped but the running job stays. A second authorization must
    not rest on that job (its run ends it with the first one's payload): it is asked to retry until the job has
    ended, and then the job is started over with the second authorization."""
    request = await stand.request()
    claimed: list[jobrunner.ClaimedJob] = []

    async def claim() -> None:
        claimed.append(await _claim(stand))

    refused = failure("insufficient_funds", "the payer's balance is too low")
    first_header = header("0x" + "01" * 32)
    _scripted(stand, _ClaimWhileSettling(claim, verify_payment=[VALID], settle_payment=[refused]))
    with pytest.raises(FailureError) as first:
        await paying.pay(stand.runtime, request, first_header)
    assert first.value.failure.code == "insufficient_funds"
    assert await stand.payments(request.request_key) == []
    second = header("0x" + "02" * 32)

    pool = stand.script(verify_payment=[VALID], settle_payment=[SETTLED])
    with pytest.raises(FailureError) as waiting:
        await paying.pay(stand.runtime, request, second)

    answer = waiting.value.failure
    assert (answer.code, answer.retryable) == ("payment_in_progress", True)
    assert answer.message == "an earlier payment for this request is still being reconciled; retry"
    # The worker renews its lease while it runs: the client is told to come back after at most one settle call.
    assert answer.retry_after == math.ceil(stand.runtime.settings.mcp_call_timeout_s)
    assert [tool for tool, _ in pool.calls] == ["verify_payment"]  # verified, refused before any settle
    assert await stand.payments(request.request_key) == []  # nothing reserved, nothing settled
    assert (await stand.get(request.request_key)).status == "payment_pending"
    held = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert held is not None
    assert (held.status, held.locked_by) == ("running", "w")
    assert (await _payload(stand, request.request_key))["payment_header"] == first_header
    # A lease with less left than a settle call (its worker died, say): the client comes back when it runs out.
    stand.runtime.settings = stand.runtime.settings.model_copy(update={"mcp_call_timeout_s": 30.0})
    async with transaction(stand.runtime.sessions) as session:
        shortened = sa.update(JOBS).where(JOBS.c.id == held.id).values(lease_until=utcnow() + timedelta(seconds=2.5))
        await session.execute(shortened)
    with pytest.raises(FailureError) as soon:
        await paying.pay(stand.runtime, request, second)
    assert (soon.value.failure.code, soon.value.failure.retry_after) == ("payment_in_progress", 3)
    assert isinstance(await SettlementJob([1.0]).run(JobContext(stand.runtime, claimed[0], "w")), Done)
    ended = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert ended is not None
    assert ended.status == "done"

    stand.script(verify_payment=[VALID], settle_payment=[UNKNOWN])
    outcome = await paying.pay(stand.runtime, request, second)

    assert outcome.kind is Settled.ACCEPTED
    [payment] = await stand.payments(request.request_key)
    assert (payment.status, payment.nonce) == ("pending", "0x" + "02" * 32)
    armed = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert armed is not None
    assert (armed.id, armed.status, armed.attempts, armed.locked_by) == (ended.id, "queued", 0, None)
    assert (await _payload(stand, request.request_key))["payment_header"] == second
    pool = stand.script(settle_payment=[SETTLED])
    assert isinstance(await _run(stand), Done)
    assert pool.calls == [("settle_payment", {"payment_header": second, "payment_requirements": REQUIREMENTS_V1})]
    [payment] = await stand.payments(request.request_key)
    assert payment.status == "settled"


async def test_a_refusal_the_job_meets_after_the_paid_post_dropped_the_reservation_only_ends_the_job(stand) -> None:  # type: ignore[no-untyped-def]
    """The job read the payment pending; while it settled, the paid POST's own settle was refused and dropped the
    reservation. The job's settle gets the same refusal (x402 replays it): nothing is left to fail or record."""
    request, _ = await _deferred(stand)
    claimed = await _claim(stand)
    refused = failure("insufficient_funds", "the payer's balance is too low")

    async def dropped_by_the_post() -> None:
        await cancel_reservation(stand.runtime, request.request_key)

    _scripted(stand, _ClaimWhileSettling(dropped_by_the_post, settle_payment=[refused]))
    outcome = await SettlementJob([1.0]).run(JobContext(stand.runtime, claimed, "w"))

    assert isinstance(outcome, Done)
    assert await stand.payments(request.request_key) == []
    row = await stand.get(request.request_key)
    assert row.status == "payment_pending"  # not failed: the payer may still pay
    job = await stand.job(JobKind.SETTLE_RECONCILE, request.request_key)
    assert job is not None
    assert job.status == "done"
    assert await _payload(stand, request.request_key) == {"request_key": request.request_key}


async def test_a_dead_lettered_reconciliation_leaves_the_request_retryable_and_says_why(stand) -> None:  # type: ignore[no-untyped-def]
    request, _ = await _deferred(stand)
    claimed = await _claim(stand)
    async with transaction(stand.runtime.sessions) as session:
        await SettlementJob([1.0]).dead_lettered(stand.runtime, session, claimed, "rpc_unavailable")
    row = await stand.get(request.request_key)
    assert (row.error_code, row.error_retryable) == ("settlement_unconfirmed", True)
    assert "rpc_unavailable" in str(row.error_message)
    assert row.status == "payment_pending"


async def test_a_dead_letter_of_a_purged_request_changes_nothing(stand) -> None:  # type: ignore[no-untyped-def]
    request, _ = await _deferred(stand)
    claimed = await _claim(stand)
    stray = jobrunner.ClaimedJob(**{**claimed.__dict__, "payload": SettlePayload(request_key="purged").to_json()})
    async with transaction(stand.runtime.sessions) as session:
        await SettlementJob([1.0]).dead_lettered(stand.runtime, session, stray, "gone")
    assert (await stand.get(request.request_key)).error_code == "facilitator_timeout"
