"""The queue's gauges for alerts and dashboards: backlog, the most overdue job, stuck jobs, dead letters.

A task of every proxy process refreshes them from the database every ``QUEUE_METRICS_INTERVAL_S``
(replicas export the same values; rules aggregate with ``max``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import cast

import sqlalchemy as sa

from certify_proxy.queue.metrics import DEAD_LETTERS_WAITING, JOB_OLDEST_AGE, JOBS_STUCK, JOBS_WAITING
from certify_proxy.queue.runner import JOBS
from certify_proxy.runtime import Runtime
from certify_proxy.store.models import DeadLetter, JobKind, JobStatus, aware, utcnow
from certify_proxy.tasks.periodic import Periodic

logger = logging.getLogger("certify.proxy.queue_metrics")

KINDS = (JobKind.CERTIFY, JobKind.SETTLE_RECONCILE, JobKind.WEBHOOK)
DEAD_LETTERS = cast(sa.Table, DeadLetter.__table__)  # type: ignore[attr-defined]


def register_kinds() -> None:
    """Create every labelled series at 0, so a rule or dashboard finds them before the first job."""
    for kind in KINDS:
        JOBS_WAITING.labels(kind)
        JOB_OLDEST_AGE.labels(kind)
        DEAD_LETTERS_WAITING.labels(kind)


async def refresh(runtime: Runtime) -> None:
    """Read the queue and set the gauges."""
    now = utcnow()
    overdue = now - timedelta(seconds=runtime.settings.stuck_after_s)
    waiting = (
        sa.select(JOBS.c.kind, sa.func.count())
        .where(JOBS.c.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        .group_by(JOBS.c.kind)
    )
    oldest = (
        sa.select(JOBS.c.kind, sa.func.min(JOBS.c.run_at))
        .where(JOBS.c.status == JobStatus.QUEUED)
        .group_by(JOBS.c.kind)
    )
    stuck = sa.select(sa.func.count()).where(
        sa.or_(
            sa.and_(JOBS.c.status == JobStatus.RUNNING, JOBS.c.lease_until < now),
            sa.and_(JOBS.c.status == JobStatus.QUEUED, JOBS.c.run_at < overdue),
        )
    )
    dead = (
        sa.select(DEAD_LETTERS.c.kind, sa.func.count())
        .where(DEAD_LETTERS.c.requeued_at.is_(None))
        .group_by(DEAD_LETTERS.c.kind)
    )
    async with runtime.sessions() as session:
        waiting_rows = dict((await session.execute(waiting)).tuples().all())
        oldest_rows = dict((await session.execute(oldest)).tuples().all())
        stuck_count = int((await session.execute(stuck)).scalar_one())
        dead_rows = dict((await session.execute(dead)).tuples().all())
    for kind in sorted(set(KINDS) | set(waiting_rows) | set(oldest_rows) | set(dead_rows)):
        JOBS_WAITING.labels(kind).set(int(waiting_rows.get(kind, 0)))
        due = aware(oldest_rows.get(kind))
        JOB_OLDEST_AGE.labels(kind).set(max((now - due).total_seconds(), 0.0) if due is not None else 0.0)
        DEAD_LETTERS_WAITING.labels(kind).set(int(dead_rows.get(kind, 0)))
    JOBS_STUCK.set(stuck_count)


def queue_metrics(runtime: Runtime) -> Periodic:
    """The periodic refresh of the queue gauges (series registered now; no loop when the interval is 0)."""
    register_kinds()
    return Periodic("queue-metrics", runtime.settings.queue_metrics_interval_s, lambda: refresh(runtime))
