"""The queue's gauges for alerts and dashboards: backlog, the most overdue job, stuck jobs, dead letters.

A task of every proxy process refreshes them from the database every ``QUEUE_METRICS_INTERVAL_S``
(replicas export the same values; rules aggregate with ``max``).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from certify_proxy.queue.metrics import DEAD_LETTERS_WAITING, JOB_OLDEST_AGE, JOBS_STUCK, JOBS_WAITING
from certify_proxy.runtime import Runtime
from certify_proxy.store.gauges import queue_counts
from certify_proxy.store.models import JobKind, utcnow
from certify_proxy.tasks.periodic import Periodic

logger = logging.getLogger("certify.proxy.queue_metrics")

KINDS = (JobKind.CERTIFY, JobKind.SETTLE_RECONCILE, JobKind.WEBHOOK)


def register_kinds() -> None:
    """Create every labelled series at 0, so a rule or dashboard finds them before the first job."""
    for kind in KINDS:
        JOBS_WAITING.labels(kind)
        JOB_OLDEST_AGE.labels(kind)
        DEAD_LETTERS_WAITING.labels(kind)


async def refresh(runtime: Runtime) -> None:
    """Read the queue and set the gauges."""
    now = utcnow()
    async with runtime.reads() as session:
        counts = await queue_counts(session, now, now - timedelta(seconds=runtime.settings.stuck_after_s))
    for kind in sorted(set(KINDS) | set(counts.waiting) | set(counts.oldest_run_at) | set(counts.dead_letters)):
        JOBS_WAITING.labels(kind).set(counts.waiting.get(kind, 0))
        due = counts.oldest_run_at.get(kind)
        JOB_OLDEST_AGE.labels(kind).set(max((now - due).total_seconds(), 0.0) if due is not None else 0.0)
        DEAD_LETTERS_WAITING.labels(kind).set(counts.dead_letters.get(kind, 0))
    JOBS_STUCK.set(counts.stuck)


def queue_metrics(runtime: Runtime) -> Periodic:
    """The periodic refresh of the queue gauges (series registered now; no loop when the interval is 0)."""
    register_kinds()
    return Periodic("queue-metrics", runtime.settings.queue_metrics_interval_s, lambda: refresh(runtime))
