"""Paid submissions: look the authorization up, verify, settle, record, enqueue — each authorization once.

Every submission of one authorization is serialised by a lock in shared state (Redis across
processes), then by the request's own lock; inside, the payments table is read first, so a
repeated or concurrent submission answers with the current state instead of settling again.
The x402 server's own replay guard and the table's UNIQUE (network, payer, nonce) back this up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from certify_common.contracts.x402 import PaymentRequirements, SettleResult
from certify_common.errors import Failure, FailureError, failure, require
from certify_common.kv import LockTimeoutError
from certify_proxy.api_keys import Principal
from certify_proxy.certification.intake import Outcome, Settled, current_state
from certify_proxy.certification.offers import stored_terms
from certify_proxy.certification.ownership import owned_request
from certify_proxy.certification.payment_headers import Authorization, decode_payment_header
from certify_proxy.certification.states import AWAITING_PAYMENT, State
from certify_proxy.certification.status import Related, status_view
from certify_proxy.metrics import PAYMENT_VERIFICATIONS
from certify_proxy.queue.payloads import SettlePayload
from certify_proxy.runtime import Runtime
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import transaction
from certify_proxy.store.models import CertificationRequest, PaymentStatus, aware, utcnow
from certify_proxy.tasks.settle import (
    cancel_reservation,
    defer_settlement,
    record_settlement,
    reserve_settlement,
)
from certify_proxy.upstream.receipts import block_number

logger = logging.getLogger("certify.proxy.payments")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _fail(fail: Failure) -> FailureError:
    return FailureError(fail)


@dataclass(frozen=True)
class PaidRetry:
    """Whether a paid submission skips the write limit, and the caller's request it named (None when unknown).

    ``awaiting``: the request awaits payment, so unless the header replays a payment already recorded, it goes
    on to x402's verification; those verifications count against a limit of their own
    (``RATE_LIMIT_PAID_RETRIES_PER_MIN``, see :func:`pay`'s ``admit``), so that headers that never pay cannot be
    sent for verification without bound."""

    exempt: bool
    request: CertificationRequest | None = None
    awaiting: bool = False


async def exempt_paid_retry(
    runtime: Runtime, request_id: str, header: str, principal: Principal, token: str | None
) -> PaidRetry:
    """Whether a submission is the paid retry of the caller's request awaiting payment, with a header that
    decodes: only those skip the write limit (a junk header or a finished request counts like any write); the
    verification they lead to counts against the paid-retry limit instead (``PaidRetry.awaiting``). A replay of
    the very authorization already recorded for the request counts against neither: it writes nothing, verifies
    nothing and answers the state, so a client (or fifty concurrent copies) retrying one payment is never refused.

    A keyed caller's request is found by its id; a keyless one only with its token (a keyless retry that
    repeats the body instead counts as a write: recognising it would mean hashing the document here). The
    request found is handed on (``ownership.paid_request`` need not read it again)."""
    decoded = decode_payment_header(header)
    if isinstance(decoded, Failure):
        return PaidRetry(exempt=False)
    auth = decoded[0]
    async with runtime.reads() as session:
        try:
            request = await owned_request(session, principal, request_id, token)
        except FailureError:
            return PaidRetry(exempt=False)
        if State(request.status) in AWAITING_PAYMENT:
            return PaidRetry(exempt=True, request=request, awaiting=True)
        paid = await repo.payment_by_authorization(session, auth.network, auth.payer, auth.nonce)
    return PaidRetry(exempt=paid is not None and paid.request_key == request.request_key, request=request)


async def pay(
    runtime: Runtime, request: CertificationRequest, header: str, admit: Callable[[], Awaitable[None]] | None = None
) -> Outcome:
    """Handle one paid submission for ``request`` (already resolved for the caller: ``ownership.py``).

    ``admit`` runs right before the authorization is sent to x402 for verification, and only then (a payment
    already recorded is answered without it): the route counts the verification against the caller's paid-retry
    limit there, and its refusal (429) ends the submission with nothing written."""
    decoded = decode_payment_header(header)
    if isinstance(decoded, Failure):
        PAYMENT_VERIFICATIONS.labels(decoded.code).inc()
        raise _fail(decoded)
    auth, _payment = decoded
    lock_s = runtime.settings.payment_lock_s
    try:
        async with (
            runtime.kv.lock(f"pay:auth:{auth.key}", ttl_s=lock_s, wait_s=lock_s),
            runtime.kv.lock(f"pay:request:{request.request_key}", ttl_s=lock_s, wait_s=lock_s),
        ):
            return await _pay_locked(runtime, request, auth, header, admit)
    except LockTimeoutError as exc:
        raise _fail(
            failure("payment_in_progress", "this payment is being processed; retry", retryable=True, retry_after=2)
        ) from exc


async def _current(
    runtime: Runtime, request_key: str, auth: Authorization
) -> tuple[CertificationRequest, Outcome | None]:
    """The request as stored now, and its current state when a payment is already recorded for it or for this
    authorization (never charge twice); one query."""
    async with runtime.reads() as session:
        request, by_authorization, for_request = await repo.request_and_payments(
            session, request_key, auth.network, auth.payer, auth.nonce
        )
    if request is None:
        raise RuntimeError("a request being paid for vanished")
    if by_authorization is not None and by_authorization.request_key != request_key:
        raise _fail(failure("nonce_already_used", "this authorization already paid for another request"))
    if by_authorization is None and for_request is None:
        return request, None
    # This authorization is recorded for the request, or the request is already paid by another: its state.
    return request, await current_state(runtime, request)


def _requirements(request: CertificationRequest, auth: Authorization) -> PaymentRequirements:
    if auth.network != request.network:
        raise _fail(failure("network_mismatch", f"this request is paid on {request.network}", expected=request.network))
    x402 = stored_terms(request)
    requirements = None if x402 is None else x402.requirements_v1 if auth.x402_version == 1 else x402.requirements_v2
    if requirements is None:
        raise _fail(failure("network_mismatch", f"{request.network} is offered through x402 v2 only"))
    return PaymentRequirements.model_validate(requirements)


async def _pay_locked(
    runtime: Runtime,
    request: CertificationRequest,
    auth: Authorization,
    header: str,
    admit: Callable[[], Awaitable[None]] | None,
) -> Outcome:
    request, recorded = await _current(runtime, request.request_key, auth)
    if recorded is not None:
        return recorded
    if State(request.status) not in AWAITING_PAYMENT:
        return await current_state(runtime, request)
    requirements = _requirements(request, auth)
    valid_until = aware(request.quote_valid_until)
    if valid_until is not None and valid_until < utcnow():
        raise _fail(failure("quote_expired", "the quote expired: send the request again for a new offer"))
    if admit is not None:
        await admit()
    verdict = await runtime.x402.verify(header, requirements)
    if isinstance(verdict, Failure):
        raise _fail(verdict)
    reason = None if verdict.is_valid else (verdict.reason or "payment_invalid")
    if reason is not None and not _CODE.match(reason):
        reason = "payment_invalid"  # the reason becomes a metric label: only known codes pass
    PAYMENT_VERIFICATIONS.labels(reason or "valid").inc()
    if reason is not None and reason != "nonce_already_used":
        raise _fail(failure(reason, verdict.message or "the payment is not valid"))
    # nonce_already_used with no payment of ours on record: this very authorization may have been settled
    # by a proxy that died before recording it. settle_payment replays the first result for the same
    # authorization (no second transfer) and refuses any other with nonce_already_used.
    try:
        # The reconciliation is due once the lock and any settle call in flight are surely over.
        due_s = runtime.settings.payment_lock_s + runtime.settings.mcp_call_timeout_s
        pending = SettlePayload(
            request_key=request.request_key, payment_header=header, payment_requirements=requirements
        )
        await reserve_settlement(runtime, auth, pending, due_s)
    except IntegrityError:
        # Another authorization (or process without our lock) reserved this request first: report that state.
        _, recorded = await _current(runtime, request.request_key, auth)
        if recorded is None:
            raise
        return recorded
    settled = await runtime.x402.settle(header, requirements)
    if isinstance(settled, Failure):
        logger.warning("settlement failed", extra={"code": settled.code, "retryable": settled.retryable})
        if not settled.retryable:
            await cancel_reservation(runtime, request.request_key)
            raise _fail(settled)
        # The outcome is unknown or pending: the reserved job reconciles it (same authorization, never twice).
        await defer_settlement(runtime, request.request_key, settled)
        return await current_state(runtime, request)
    return await _record_payment(runtime, request, auth, settled)


class _AlreadyRecorded(Exception):
    """The payment row was already settled by the reconciliation job."""


async def _record_payment(
    runtime: Runtime, request: CertificationRequest, auth: Authorization, settled: SettleResult
) -> Outcome:
    receipt = settled.payment_response_header
    tx_hash = settled.transaction or None
    block = await block_number(runtime.http, runtime.settings.evm_rpc_urls.get(auth.network), tx_hash)
    headers = {"PAYMENT-RESPONSE": receipt, "X-PAYMENT-RESPONSE": receipt}
    try:
        async with transaction(runtime.sessions) as session:
            locked = require(await repo.get_request(session, request.request_key, for_update=True), "the paid request")
            # Read after the lock, in a statement of its own: a SELECT … FOR UPDATE that waited for another writer
            # re-reads only the locked row, so a payment joined into it could be the version from before the wait.
            payment = await repo.payment_for_request(session, locked.request_key)
            if payment is None:
                raise RuntimeError("the payment reserved before settlement is missing")
            if payment.status != PaymentStatus.PENDING:
                # The reconciliation job recorded it first (a slow settle): nothing more to write.
                raise _AlreadyRecorded
            reason = f"payment settled: {settled.transaction}"
            job = await record_settlement(session, runtime.settings, locked, payment, settled, block, reason)
            # The state as this transaction leaves it: payment_verified, its certification queued, no proof yet
            # (the request was not paid before, so no certification job could have run).
            related = Related(payment=payment, certification=None, job=job)
            await session.flush()  # the new step is read back with the history
            view = await status_view(session, locked, runtime.settings.public_base_url, related)
        outcome = Outcome(Settled.ACCEPTED, view)
    except _AlreadyRecorded:
        # No unique key is written here (the row was reserved before settling, and the job that could
        # enqueue the same certification locks the request first): a concurrent writer shows as this.
        outcome = await current_state(runtime, request)
    outcome.headers.update(headers)
    return outcome
