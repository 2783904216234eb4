"""Operator views of the queue: dead letters (listed, re-queued) and stuck jobs.

The database queue is the source of truth; the Kubernetes operator mirrors these through the admin
API. Payloads are shown without payment headers (a pending settlement's authorization).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.errors import require
from certify_proxy.certification.states import State
from certify_proxy.queue.payloads import AnyPayload, SettlePayload, read_payload, request_key_of
from certify_proxy.queue.runner import UNBOUNDED
from certify_proxy.store import deadletters as dead_letter_rows
from certify_proxy.store import jobs as job_rows
from certify_proxy.store import repositories as repo
from certify_proxy.store.models import DeadLetter, Job, JobKind, aware, utcnow

#: What a payload shows instead of a payment header (a pending settlement's authorization).
REDACTED = "[redacted]"


def _iso(value: datetime | None) -> str | None:
    moment = aware(value)
    return moment.isoformat() if moment is not None else None


def _public_payload(kind: str, raw: str) -> AnyPayload | None:
    payload = read_payload(kind, raw)
    if isinstance(payload, SettlePayload) and payload.payment_header is not None:
        return payload.model_copy(update={"payment_header": REDACTED})
    return payload


async def client_request_ids(session: AsyncSession, payloads: list[str]) -> dict[str, str]:
    """request_key → the client's request_id, for the requests named in job payloads."""
    keys = {key for raw in payloads if (key := request_key_of(raw))}
    return await repo.request_ids(session, keys)


class DeadLetterView(BaseModel):
    """A dead letter as the admin API shows it: the job, its payload (payment headers redacted), the last error."""

    id: int
    job_id: int
    kind: str
    request_key: str | None
    request_id: str | None = Field(description="The client's request_id, when the payload names a request.")
    payload: AnyPayload | None = Field(
        description="The job's payload as its kind's model; null when the row does not fit it."
    )
    error: str
    attempts: int
    created_at: str | None
    requeued_at: str | None


class DeadLetters(BaseModel):
    """``GET /v1/admin/dead-letters``."""

    dead_letters: list[DeadLetterView]


class JobView(BaseModel):
    """A job as the admin API shows it."""

    id: int
    kind: str
    request_key: str | None
    request_id: str | None
    status: str
    attempts: int
    max_attempts: int
    run_at: str | None
    lease_until: str | None
    locked_by: str | None
    last_error: str | None


class StuckJobs(BaseModel):
    """``GET /v1/admin/jobs/stuck``."""

    stuck_after_s: float
    jobs: list[JobView]


def dead_letter_view(row: DeadLetter, request_ids: dict[str, str]) -> DeadLetterView:
    """A dead letter as the admin API shows it (``request_ids`` from :func:`client_request_ids`)."""
    key = request_key_of(row.payload)
    return DeadLetterView(
        id=require(row.id, "the row id"),
        job_id=row.job_id,
        kind=row.kind,
        request_key=key,
        request_id=request_ids.get(str(key)),
        payload=_public_payload(row.kind, row.payload),
        error=row.error,
        attempts=row.attempts,
        created_at=_iso(row.created_at),
        requeued_at=_iso(row.requeued_at),
    )


def job_view(row: Job, request_ids: dict[str, str]) -> JobView:
    """A job as the admin API shows it (``request_ids`` from :func:`client_request_ids`)."""
    key = request_key_of(row.payload)
    return JobView(
        id=require(row.id, "the row id"),
        kind=row.kind,
        request_key=key,
        request_id=request_ids.get(str(key)),
        status=row.status,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        run_at=_iso(row.run_at),
        lease_until=_iso(row.lease_until),
        locked_by=row.locked_by,
        last_error=row.last_error,
    )


async def list_dead_letters(session: AsyncSession, *, include_requeued: bool, limit: int) -> list[DeadLetter]:
    """Dead letters, newest first (by default only those not re-queued yet)."""
    return await dead_letter_rows.newest(session, include_requeued=include_requeued, limit=limit)


async def requeue(session: AsyncSession, dead_letter_id: int) -> DeadLetter | None:
    """Queue a dead letter's job again with a fresh set of attempts; None if unknown or already re-queued.

    Every kind can be re-driven. A failed certification request goes back to ``certifying`` (an operator
    re-queue is the one way out of ``failed``), with its error cleared; a settlement job comes back
    unbounded, like every settlement job now.
    """
    row = await dead_letter_rows.lock(session, dead_letter_id)
    if row is None or row.requeued_at is not None:
        return None
    now = utcnow()
    # A paid settlement is retried until it concludes (dead letters of it predate that rule).
    max_attempts = UNBOUNDED if row.kind == JobKind.SETTLE_RECONCILE else None
    if not await job_rows.requeue_dead(session, row.job_id, now, max_attempts=max_attempts):
        return None
    row.requeued_at = now
    session.add(row)
    request_key = request_key_of(row.payload)
    if row.kind == JobKind.CERTIFY and request_key:
        request = await repo.get_request(session, str(request_key), for_update=True)
        if request is not None and State(request.status) == State.FAILED:
            request.error_code = request.error_message = None
            request.error_retryable = None
            repo.transition(session, request, State.CERTIFYING, f"re-queued by an operator (dead letter {row.id})")
    await session.flush()
    return row


async def stuck_jobs(session: AsyncSession, stuck_after_s: float, limit: int) -> list[Job]:
    """Running jobs whose lease expired, and queued jobs overdue by more than ``stuck_after_s``."""
    now = utcnow()
    return await job_rows.stuck(session, now, now - timedelta(seconds=stuck_after_s), limit)
