"""Settlement retries: a paid submission whose settlement did not conclude is finished by a job.

Before ``settle_payment`` is called, the paid POST records the payment as ``pending`` together with a
delayed ``settle_reconcile`` job (write-ahead: a crash between the transfer and its record is repaired).
When the settle answers a retryable failure (the facilitator is down, timed out, or answered
``settlement_pending``), the job is brought forward and the client gets 202 with the state. The job calls
``settle_payment`` again with the same authorization: the x402 server reconciles it (from the chain
through its RPC, or the identical body re-posted), so the payer can never be charged twice. The payer may
have been charged, so while the outcome is unknown the job is retried without limit on the job schedule
(capped at its last delay), never dead-lettered, and shown to operators (:mod:`certify_proxy.tasks.reconciliation`).
A definite refusal (including "expired unused on chain": nothing was charged) fails the request. Once the
outcome is recorded, the payment header kept for the retries is deleted, and a job that is still only waiting
is marked done in the same statement (the paid POST recorded the outcome: nothing is left to reconcile).
"""

from __future__ import annotations

import json
import logging
import math
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.contracts.x402 import SettleResult
from certify_common.errors import Failure, FailureError, failure, require
from certify_proxy.certification.payment_headers import Authorization
from certify_proxy.certification.states import State
from certify_proxy.queue import jobs
from certify_proxy.queue.jobs import Enqueued
from certify_proxy.queue.payloads import CertifyPayload, SettlePayload
from certify_proxy.queue.runner import UNBOUNDED, ClaimedJob
from certify_proxy.queue.settings import retry_delay_s
from certify_proxy.queue.worker import Done, JobContext, Outcome, Retry
from certify_proxy.runtime import Runtime
from certify_proxy.settings import ProxySettings
from certify_proxy.store import jobs as job_rows
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import transaction
from certify_proxy.store.models import (
    CertificationRequest,
    Job,
    JobKind,
    JobStatus,
    Payment,
    PaymentStatus,
    aware,
    utcnow,
)
from certify_proxy.tasks.reconciliation import forget_payment_header
from certify_proxy.tasks.webhook import enqueue_webhook
from certify_proxy.upstream.receipts import block_number

logger = logging.getLogger("certify.proxy.settlement")


async def reserve_settlement(runtime: Runtime, auth: Authorization, payload: SettlePayload, delay_s: float) -> None:
    """Write ahead, before ``settle_payment`` is called: a ``pending`` payment and its reconciliation job.

    If this process dies after the facilitator moved the money but before the answer is stored, the job
    (due after ``delay_s``, longer than any settle call) asks x402 again; x402 replays the first result for
    the same authorization, so the payment ends recorded and certified, never lost and never paid twice.
    The ``pending`` row also makes the database refuse a second authorization for the same request.

    The request has one reconciliation job (its key names the request). One left by an earlier reservation
    (queued, done, or abandoned by a worker whose lease expired) is started over with this authorization. While a
    worker holds it under a live lease, this reservation is refused as ``payment_in_progress`` (retryable, nothing
    written, ``retry_after`` at most one settle call or what is left of the lease): the run would end the job with
    the earlier authorization's payload, leaving this payment without its reconciliation.
    """
    request_key = payload.request_key
    async with transaction(runtime.sessions) as session:
        locked = require(await repo.get_request(session, request_key, for_update=True), "the request to reserve")
        session.add(
            Payment(
                request_key=request_key,
                network=auth.network,
                payer=auth.payer,
                nonce=auth.nonce,
                amount_atomic=auth.value_atomic,
                status=PaymentStatus.PENDING,
                tx_hash=None,
                block_number=None,
                settle_json=None,
                settled_at=None,
                created_at=utcnow(),
            )
        )
        if State(locked.status) == State.QUOTED:
            repo.transition(session, locked, State.PAYMENT_PENDING, "payment received")
        armed = await jobs.arm(
            session,
            JobKind.SETTLE_RECONCILE,
            f"{JobKind.SETTLE_RECONCILE}:{request_key}",
            payload,
            max_attempts=UNBOUNDED,
            delay_s=delay_s,
        )
        if armed is None:
            held = await jobs.job_for_request(session, JobKind.SETTLE_RECONCILE, request_key)
            raise FailureError(
                failure(
                    "payment_in_progress",
                    "an earlier payment for this request is still being reconciled; retry",
                    retryable=True,
                    retry_after=_until_released(held, runtime.settings.mcp_call_timeout_s),
                )
            )


def _until_released(job: Job | None, longest_s: float) -> int:
    """Whole seconds after which a held job is surely free or its holder's settle call over (an upper bound): what
    is left of its lease (a worker that died keeps it that long), at most one settle call (a live worker renews its
    lease, and its run ends with its call)."""
    lease_until = None if job is None else aware(job.lease_until)
    left_s = longest_s if lease_until is None else (lease_until - utcnow()).total_seconds()
    return max(1, math.ceil(min(left_s, longest_s)))


async def record_settlement(
    session: AsyncSession,
    settings: ProxySettings,
    request: CertificationRequest,
    payment: Payment,
    settled: SettleResult,
    block: int | None,
    reason: str,
) -> Enqueued:
    """The one record of a settled payment, in the caller's transaction (``request`` locked by it); returns the
    certification job it queued.

    The payment row becomes ``settled`` with its transfer, the request ``payment_verified`` with its
    certification queued, and the payment header kept for reconciliation is forgotten (the authorization is
    spent). Both the paid POST and the reconciliation job record through here.
    """
    payment.status, payment.tx_hash, payment.block_number = PaymentStatus.SETTLED, settled.transaction or None, block
    payment.settle_json = json.dumps(settled.settle_response, separators=(",", ":"))
    payment.settled_at = utcnow()
    session.add(payment)
    _clear_error(request)
    # reserve_settlement left the request in payment_pending (it moves a quoted one there under the same row
    # lock), and a re-quote returns to payment_pending in one transaction: the request is never quoted here.
    repo.transition(session, request, State.PAYMENT_VERIFIED, reason)
    await forget_payment_header(session, request.request_key)
    return await jobs.enqueue(
        session,
        JobKind.CERTIFY,
        f"{JobKind.CERTIFY}:{request.request_key}",
        CertifyPayload(request_key=request.request_key),
        max_attempts=settings.job_max_attempts,
    )


async def defer_settlement(runtime: Runtime, request_key: str, fail: Failure) -> None:
    """A settle answered a retryable failure: say so on the request and let the job retry soon."""
    settings = runtime.settings
    async with transaction(runtime.sessions) as session:
        locked = require(await repo.get_request(session, request_key, for_update=True), "the settling request")
        payment = await repo.payment_for_request(session, request_key)
        job = await jobs.job_for_request(session, JobKind.SETTLE_RECONCILE, request_key)
        if payment is not None and payment.status == PaymentStatus.PENDING and fail.details.get("transaction"):
            payment.tx_hash = str(fail.details["transaction"])
            session.add(payment)
        locked.error_code = fail.code
        locked.error_message = "the settlement is not confirmed yet; it is retried automatically"
        locked.error_retryable = True
        session.add(locked)
        if job is not None and job.status == JobStatus.QUEUED:
            job.run_at = utcnow() + timedelta(seconds=retry_delay_s(settings.job_retry_delays_s, 1))
            session.add(job)
    logger.warning("settlement deferred", extra={"code": fail.code})


async def cancel_reservation(runtime: Runtime, request_key: str) -> None:
    """A settle was definitely refused (nothing moved): drop the reservation so another payment can be tried."""
    async with transaction(runtime.sessions) as session:
        payment = await repo.payment_for_request(session, request_key)
        job = await jobs.job_for_request(session, JobKind.SETTLE_RECONCILE, request_key)
        if payment is not None and payment.status == PaymentStatus.PENDING:
            await repo.delete_payment(session, payment)
        if job is not None and job.status == JobStatus.QUEUED:
            await job_rows.delete(session, job)


class SettlementJob:
    """Handler of ``settle_reconcile`` jobs (payload: :class:`SettlePayload`)."""

    def __init__(self, retry_delays_s: list[float]) -> None:
        self.retry_delays_s = retry_delays_s

    async def run(self, context: JobContext) -> Outcome:
        runtime = context.runtime
        payload = context.payload(SettlePayload)
        request_key = payload.request_key
        async with runtime.reads() as session:
            payment = await repo.payment_for_request(session, request_key)
        if payment is None or payment.status != PaymentStatus.PENDING:
            async with transaction(runtime.sessions) as session:
                await _conclude(context, session, request_key)
            return Done()
        if payload.payment_header is None or payload.payment_requirements is None:
            return Retry("the pending settlement's job holds no authorization")
        settled = await runtime.x402.settle(payload.payment_header, payload.payment_requirements)
        if isinstance(settled, Failure):
            if settled.retryable:
                return Retry(f"{settled.code}: {settled.message}")
            await self._refused(context, request_key, settled)
            return Done()
        await self._settled(context, request_key, payment.network, settled)
        return Done()

    async def _settled(self, context: JobContext, request_key: str, network: str, settled: SettleResult) -> None:
        runtime = context.runtime
        tx_hash = settled.transaction or None
        block = await block_number(runtime.http, runtime.settings.evm_rpc_urls.get(network), tx_hash)
        async with transaction(runtime.sessions) as session:
            locked = require(await repo.get_request(session, request_key, for_update=True), "the settling request")
            payment = require(await repo.payment_for_request(session, request_key), "the reserved payment")
            if await _recorded_meanwhile(context, session, payment, request_key):
                return
            reason = f"payment settled on retry: {tx_hash}"
            await record_settlement(session, runtime.settings, locked, payment, settled, block, reason)
            # The authorization is spent: keep no copy of it in the job either.
            await context.save_in(session, SettlePayload(request_key=request_key))
            await context.finish(session)
        logger.info("deferred settlement concluded")

    async def _refused(self, context: JobContext, request_key: str, fail: Failure) -> None:
        runtime = context.runtime
        async with transaction(runtime.sessions) as session:
            locked = require(await repo.get_request(session, request_key, for_update=True), "the settling request")
            payment = await repo.payment_for_request(session, request_key)
            if await _recorded_meanwhile(context, session, payment, request_key) or payment is None:
                return
            payment.status = PaymentStatus.FAILED
            session.add(payment)
            locked.error_code, locked.error_message, locked.error_retryable = fail.code, fail.message, False
            repo.transition(session, locked, State.FAILED, f"settlement refused: {fail.code}")
            await enqueue_webhook(session, locked, runtime.settings)
            await _conclude(context, session, request_key)
        logger.warning("deferred settlement refused", extra={"code": fail.code})

    async def dead_lettered(self, runtime: Runtime, session: AsyncSession, job: ClaimedJob, error: str) -> None:
        payload = SettlePayload.model_validate_json(job.payload)
        request = await repo.get_request(session, payload.request_key, for_update=True)
        if request is None:
            return
        request.error_code = "settlement_unconfirmed"
        request.error_message = f"the settlement was not confirmed after {job.attempts} attempts: {error}"[:2000]
        request.error_retryable = True
        request.updated_at = utcnow()
        session.add(request)


async def _recorded_meanwhile(
    context: JobContext, session: AsyncSession, payment: Payment | None, request_key: str
) -> bool:
    """Whether the paid POST concluded while this attempt was settling (it read the payment pending before): it
    recorded the outcome, or a definite refusal dropped the reservation (no payment is left). Then the job only
    finishes, in the caller's transaction, and records nothing twice."""
    if payment is not None and payment.status == PaymentStatus.PENDING:
        return False
    await _conclude(context, session, request_key)
    logger.info("settlement already recorded by the paid submission")
    return True


async def _conclude(context: JobContext, session: AsyncSession, request_key: str) -> None:
    """Finish the job with nothing left of the authorization, in the caller's transaction: its payload and
    every copy of the payment header are reduced to the request key."""
    await context.save_in(session, SettlePayload(request_key=request_key))
    await forget_payment_header(session, request_key)
    await context.finish(session)


def _clear_error(request: CertificationRequest) -> None:
    request.error_code = request.error_message = None
    request.error_retryable = None
