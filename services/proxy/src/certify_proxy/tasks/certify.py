"""The certification job: submit once, poll until Executed, store the proof, complete the request.

Exactly-once rests on three things: the idempotency key given to ``certify_data`` is derived from
stored state (the request id, plus the submission number once a resubmission was decided), so a
crash before the answer was stored replays the same transaction; the submitted ``tx_id`` is
committed before polling starts; and a transaction still Pending or Verified when an attempt's
deadline passes is polled again by the next attempt, never resubmitted. Only a definite rejection
(a final status other than Executed, or a non-retryable refusal) or a transaction the NAG still does
not know after a grace period leads to a new submission (new key, fresh nonce).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.contracts.circular import CertificationProof
from certify_common.errors import Failure
from certify_proxy.certification.states import State
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.queue.runner import ClaimedJob
from certify_proxy.queue.worker import Done, JobContext, Outcome, Retry
from certify_proxy.runtime import Runtime
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import transaction
from certify_proxy.store.models import Certification, CertificationRequest, aware, utcnow
from certify_proxy.tasks.webhook import enqueue_webhook

logger = logging.getLogger("certify.proxy.certification")

#: Statuses on the way to Executed; any other non-final status is a rejection.
IN_FLIGHT = frozenset({"Pending", "Verified"})


def idempotency_key(request_key: str, submission: int) -> str:
    """The key of the ``submission``-th submission of a request (0: the request id itself)."""
    return request_key if submission == 0 else f"{request_key}:resubmission-{submission}"


def _describe(fail: Failure) -> str:
    return f"{fail.code}: {fail.message}"


def _resubmit(progress: CertifyPayload, reason: str) -> Retry:
    """A definite rejection: the next attempt submits a new transaction under a new key."""
    nxt = progress.model_copy(update={"submission": progress.submission + 1, "tx_id": None, "submitted_at": None})
    logger.warning("certification will be resubmitted", extra={"reason": reason, "submission": nxt.submission})
    return Retry(reason, nxt)


class CertificationJob:
    """Handler of ``certify`` jobs (payload: :class:`CertifyPayload`, the request and the progress)."""

    def __init__(self, retry_delays_s: list[float], not_found_grace_s: float) -> None:
        self.retry_delays_s = retry_delays_s
        self.not_found_grace_s = not_found_grace_s

    async def run(self, context: JobContext) -> Outcome:
        runtime = context.runtime
        progress = context.payload(CertifyPayload)
        request_key = progress.request_key
        async with transaction(runtime.sessions) as session:
            request = await repo.get_request(session, request_key, for_update=True)
            if request is None:
                return Retry(f"request {request_key} does not exist")
            if State(request.status) == State.COMPLETED:
                await context.finish(session)
                return Done()
            if State(request.status) == State.PAYMENT_VERIFIED:
                repo.transition(session, request, State.CERTIFYING, "certification started")
        if not progress.tx_id:
            submitted = await self._submit(context, request, progress)
            if isinstance(submitted, Retry):
                return submitted
            progress = submitted
        return await self._confirm(context, request, progress)

    async def _submit(
        self, context: JobContext, request: CertificationRequest, progress: CertifyPayload
    ) -> CertifyPayload | Retry:
        submission = progress.submission
        if progress.submit_started_at is None:
            progress = progress.model_copy(update={"submit_started_at": utcnow()})
        key = idempotency_key(request.request_key, submission)
        answer = await context.runtime.circular.certify(request.data_hash, key)
        if isinstance(answer, Failure):
            if answer.retryable:
                return Retry(_describe(answer), progress)
            return _resubmit(progress, f"rejected: {_describe(answer)}")
        progress = progress.model_copy(update={"tx_id": answer.tx_id, "submitted_at": utcnow()})
        await context.save(progress)
        logger.info("certification submitted", extra={"tx_id": answer.tx_id, "submission": submission})
        return progress

    async def _confirm(self, context: JobContext, request: CertificationRequest, progress: CertifyPayload) -> Outcome:
        settings = context.runtime.settings
        circular = context.runtime.circular
        tx_id = str(progress.tx_id)
        deadline = time.monotonic() + settings.certify_deadline_s
        last = "no answer yet"
        while True:
            status = await circular.status(tx_id)
            if isinstance(status, Failure):
                last = _describe(status)
                if status.code == "transaction_not_found" and self._grace_over(progress):
                    return _resubmit(progress, f"transaction {tx_id} not found after the grace period")
            elif status.final:
                return await self._complete(context, request, progress)
            elif status.status not in IN_FLIGHT:
                return _resubmit(progress, f"transaction {tx_id} ended {status.status}")
            else:
                last = f"transaction {tx_id} is {status.status}"
            if time.monotonic() + settings.certify_poll_interval_s > deadline:
                return Retry(f"{last} after {settings.certify_deadline_s:g} s", progress)
            await asyncio.sleep(settings.certify_poll_interval_s)

    def _grace_over(self, progress: CertifyPayload) -> bool:
        submitted = aware(progress.submitted_at)
        if submitted is None:
            return True
        age = (utcnow() - submitted).total_seconds()
        return age >= self.not_found_grace_s

    async def _complete(self, context: JobContext, request: CertificationRequest, progress: CertifyPayload) -> Outcome:
        runtime = context.runtime
        tx_id = str(progress.tx_id)
        proof = await runtime.circular.proof(tx_id)
        if isinstance(proof, Failure):
            return Retry(_describe(proof), progress)
        if "0x" + proof.data_hash != request.data_hash:
            return Retry(f"the proof of {tx_id} certifies another hash", progress)
        progress = progress.model_copy(update={"executed_at": utcnow()})
        async with transaction(runtime.sessions) as session:
            locked = await repo.get_request(session, request.request_key, for_update=True)
            if locked is None:
                return Retry(f"request {request.request_key} vanished")
            if State(locked.status) != State.COMPLETED:
                store_proof(session, locked, proof)
                verified = await repo.verified_at(session, locked.request_key)
                reason = f"certified in block {proof.block_id}"
                repo.transition(session, locked, State.COMPLETED, reason, verified_at=verified)
                await enqueue_webhook(session, locked, runtime.settings)
            await context.save_in(session, progress)
            await context.finish(session)
        logger.info("certification completed", extra={"tx_id": tx_id, "block_id": proof.block_id})
        return Done()

    async def dead_lettered(self, runtime: Runtime, session: AsyncSession, job: ClaimedJob, error: str) -> None:
        payload = CertifyPayload.model_validate_json(job.payload)
        request = await repo.get_request(session, payload.request_key, for_update=True)
        if request is None or State(request.status) not in (State.PAYMENT_VERIFIED, State.CERTIFYING):
            return
        request.error_code = "certification_failed"
        request.error_message = f"certification failed after {job.attempts} attempts: {error}"[:2000]
        request.error_retryable = False
        repo.transition(session, request, State.FAILED, "dead-lettered after the last attempt")
        await enqueue_webhook(session, request, runtime.settings)


def store_proof(session: AsyncSession, request: CertificationRequest, proof: CertificationProof) -> None:
    """Add the certification row of a proof (the full proof is kept as JSON for re-verification)."""
    session.add(
        Certification(
            request_key=request.request_key,
            tx_id=proof.tx_id,
            block_id=proof.block_id,
            timestamp=proof.timestamp,
            data_hash="0x" + proof.data_hash,
            cirx_fee_paid=proof.fees.total,
            verification_url=proof.explorer_url,
            network=proof.network,
            proof_json=json.dumps(proof.model_dump(mode="json"), separators=(",", ":"), sort_keys=True),
            created_at=utcnow(),
        )
    )
