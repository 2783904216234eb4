"""Enqueue work into the durable jobs table (the worker loop that runs it belongs to the workflow engine).

A job is written in the same transaction as the state change that calls for it, so a settled
payment can never exist without its certification job. ``dedupe_key`` makes enqueueing idempotent
(:func:`enqueue` keeps the job already under the key); :func:`arm` instead starts that job over with a new
payload unless a worker holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.errors import require
from certify_common.tracing import current_trace_context
from certify_proxy.queue.payloads import JobPayload
from certify_proxy.store import jobs as job_rows
from certify_proxy.store.models import Job, JobStatus, utcnow


@dataclass(frozen=True)
class Enqueued:
    """The job a request's work is queued as: the row just written, or the one already under its key."""

    id: int
    status: str
    attempts: int
    run_at: datetime
    last_error: str | None
    payload: str


def _new_job(
    kind: str, dedupe_key: str, payload: JobPayload, max_attempts: int, delay_s: float
) -> tuple[Enqueued, dict[str, Any]]:
    """A queued job as returned (its id not known yet) and the row's values."""
    now = utcnow()
    job = Enqueued(0, JobStatus.QUEUED, 0, now + timedelta(seconds=delay_s), None, payload.to_json())
    values = {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "payload": job.payload,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": max_attempts,
        "run_at": job.run_at,
        "created_at": now,
        "updated_at": now,
        "trace_context": current_trace_context(),
    }
    return job, values


async def enqueue(
    session: AsyncSession,
    kind: str,
    dedupe_key: str,
    payload: JobPayload,
    *,
    max_attempts: int,
    delay_s: float = 0.0,
) -> Enqueued:
    """Add a job unless one with the same ``dedupe_key`` exists (then return that one).

    One ``INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id``: a new job costs one statement, and a
    concurrent transaction enqueueing the same key waits for this one instead of failing on the unique key.
    The active span's context is stored with it: the job's runs start new traces linked to it.
    """
    job, values = _new_job(kind, dedupe_key, payload, max_attempts, delay_s)
    for _ in range(2):  # the job that conflicted may be deleted before it is read: then the key is free again
        job_id = await job_rows.insert_new(session, values)
        if job_id is not None:
            return replace(job, id=job_id)
        existing = await job_rows.by_dedupe_key(session, dedupe_key)
        if existing is not None:
            job_id = require(existing.id, "the job id")
            return Enqueued(
                job_id, existing.status, existing.attempts, existing.run_at, existing.last_error, existing.payload
            )
    raise RuntimeError(f"the job {dedupe_key} conflicted and vanished twice")


async def arm(
    session: AsyncSession,
    kind: str,
    dedupe_key: str,
    payload: JobPayload,
    *,
    max_attempts: int,
    delay_s: float = 0.0,
) -> Enqueued | None:
    """Queue the job under ``dedupe_key`` with this payload: a new row, or the existing one started over (its
    earlier work concluded or abandoned). None while a worker holds it under a live lease: the caller must not
    count on it (the worker's run ends it with its own payload)."""
    job, values = _new_job(kind, dedupe_key, payload, max_attempts, delay_s)
    job_id = await job_rows.arm_idle(session, values, values["created_at"])
    return None if job_id is None else replace(job, id=job_id)


async def job_for_request(session: AsyncSession, kind: str, request_key: str) -> Job | None:
    """The job of ``kind`` enqueued for a request (by its internal key), if any."""
    return await job_rows.by_dedupe_key(session, f"{kind}:{request_key}")
