"""Enqueue work into the durable jobs table (the worker loop that runs it belongs to the workflow engine).

A job is written in the same transaction as the state change that calls for it, so a settled
payment can never exist without its certification job. ``dedupe_key`` makes enqueueing idempotent.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.tracing import current_trace_context
from certify_proxy.queue.payloads import JobPayload
from certify_proxy.store import jobs as job_rows
from certify_proxy.store.models import Job, JobStatus, utcnow


async def enqueue(
    session: AsyncSession,
    kind: str,
    dedupe_key: str,
    payload: JobPayload,
    *,
    max_attempts: int,
    delay_s: float = 0.0,
) -> Job:
    """Add a job unless one with the same ``dedupe_key`` exists (then return that one).

    The active span's context is stored with it: the job's runs start new traces linked to it.
    """
    existing = await job_rows.by_dedupe_key(session, dedupe_key)
    if existing is not None:
        return existing
    now = utcnow()
    job = Job(
        kind=kind,
        dedupe_key=dedupe_key,
        payload=payload.to_json(),
        status=JobStatus.QUEUED,
        attempts=0,
        max_attempts=max_attempts,
        run_at=now + timedelta(seconds=delay_s),
        lease_until=None,
        locked_by=None,
        last_error=None,
        created_at=now,
        updated_at=now,
        trace_context=current_trace_context(),
    )
    session.add(job)
    await session.flush()
    return job


async def job_for_request(session: AsyncSession, kind: str, request_key: str) -> Job | None:
    """The job of ``kind`` enqueued for a request (by its internal key), if any."""
    return await job_rows.by_dedupe_key(session, f"{kind}:{request_key}")
