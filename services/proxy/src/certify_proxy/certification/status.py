"""The status document of a request (``GET /v1/status/{id}`` and the 200 answers)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from certify_client.models import (
    CertificationView,
    JobProgress,
    PaymentView,
    PriceQuote,
    RequestError,
    StatusDocument,
)
from certify_proxy.certification.states import FINAL, State
from certify_proxy.certification.steps import history_entries, step_durations
from certify_proxy.queue.jobs import Enqueued, job_for_request
from certify_proxy.store import repositories as repo
from certify_proxy.store.models import Certification, CertificationRequest, Job, JobKind, Payment, aware


def _iso(value: Any) -> str | None:
    moment = aware(value)
    return moment.isoformat() if moment is not None else None


def status_url(base_url: str, request_id: str, token: str | None) -> str:
    """Where a request's status is read; a keyless request's ``token`` goes along (no key names its owner)."""
    return f"{base_url}/v1/status/{request_id}" + (f"?token={token}" if token else "")


@dataclass(frozen=True)
class Related:
    """A request's payment, proof and certification job, when the caller holds them already (in its transaction)."""

    payment: Payment | None
    certification: Certification | None
    job: Job | Enqueued | None


async def related_rows(session: AsyncSession, request_key: str) -> Related:
    """The payment, proof and certification job of a request, as stored."""
    return Related(
        payment=await repo.payment_for_request(session, request_key),
        certification=await repo.certification_for_request(session, request_key),
        job=await job_for_request(session, JobKind.CERTIFY, request_key),
    )


async def status_view(
    session: AsyncSession, request: CertificationRequest, base_url: str, related: Related | None = None
) -> StatusDocument:
    """Everything a client may know about its request, in one document (``related`` read when not given)."""
    known = related if related is not None else await related_rows(session, request.request_key)
    payment, proof, job = known.payment, known.certification, known.job
    steps = await repo.history(session, request.request_key)
    created, completed = aware(request.created_at), aware(request.completed_at)
    error = None
    if request.error_code is not None:
        error = RequestError(
            code=request.error_code,
            message=request.error_message,
            retryable=bool(request.error_retryable),
            retry_after=None,
        )
    return StatusDocument(
        request_id=request.request_id,
        status=request.status,
        status_url=status_url(
            base_url, request.request_id, request.public_token if request.api_key_id is None else None
        ),
        data_hash=request.data_hash,
        network=request.network,
        quote=PriceQuote.model_validate_json(request.quote_json) if request.quote_json else None,
        payment=None
        if payment is None
        else PaymentView(
            status=payment.status,
            tx_hash=payment.tx_hash,
            network=payment.network,
            payer=payment.payer,
            amount_paid_usdc=str(Decimal(payment.amount_atomic).scaleb(-6)),
            settled_at=_iso(payment.settled_at),
            block_number=payment.block_number,
        ),
        certification=None
        if proof is None
        else CertificationView(
            tx_id=proof.tx_id,
            block_id=proof.block_id,
            timestamp=proof.timestamp,
            data_hash=proof.data_hash,
            cirx_fee_paid=proof.cirx_fee_paid,
            verification_url=proof.verification_url,
            network=proof.network,
        ),
        certification_job=None
        if job is None
        else JobProgress(
            status=job.status, attempts=job.attempts, next_run_at=_iso(job.run_at), last_error=job.last_error
        ),
        error=error,
        history=history_entries(steps, completed),
        steps=step_durations(steps, payment, None if job is None else job.payload),
        created_at=_iso(created),
        updated_at=_iso(request.updated_at),
        completed_at=_iso(completed),
        total_duration_seconds=(completed - created).total_seconds() if created and completed else None,
    )


def is_final(request: CertificationRequest) -> bool:
    """Completed or failed."""
    return State(request.status) in FINAL
