"""The proxy's background work, started in the lifespan: job workers, the CIRX balance check, queue gauges
and the unresolved-settlement gauges."""

from __future__ import annotations

import asyncio

from certify_proxy.queue.worker import JobHandler, Workers
from certify_proxy.runtime import Runtime
from certify_proxy.store.models import JobKind
from certify_proxy.store.schema import SchemaGate
from certify_proxy.tasks.balance import balance_monitor
from certify_proxy.tasks.certify import CertificationJob
from certify_proxy.tasks.queue_gauges import queue_metrics
from certify_proxy.tasks.reconciliation import settlement_monitor
from certify_proxy.tasks.settle import SettlementJob
from certify_proxy.tasks.webhook import WebhookJob


class Background:
    """Workers (``JOB_WORKERS`` tasks) and the balance monitor of one process, once the schema is at head."""

    def __init__(self, runtime: Runtime, schema: SchemaGate) -> None:
        self.schema = schema
        self._starting: asyncio.Task[None] | None = None
        settings = runtime.settings
        handlers: dict[str, JobHandler] = {
            JobKind.CERTIFY: CertificationJob(settings.job_retry_delays_s, settings.certify_not_found_grace_s),
            JobKind.SETTLE_RECONCILE: SettlementJob(settings.job_retry_delays_s),
            JobKind.WEBHOOK: WebhookJob(settings.webhook_retry_delays_s),
        }
        self.workers = Workers(runtime, handlers)
        self.loops = (balance_monitor(runtime), queue_metrics(runtime), settlement_monitor(runtime))

    def start(self) -> None:
        """Start every task as soon as the database schema is at head (no job is claimed before)."""
        self._starting = asyncio.create_task(self._start_when_ready(), name="background-start")

    async def _start_when_ready(self) -> None:
        await self.schema.wait()
        self.workers.start()
        for loop in self.loops:
            loop.start()

    async def stop(self) -> None:
        """Stop every task (a job cut short is taken over by any worker after its lease)."""
        if self._starting is not None:
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        await self.workers.stop()
        for loop in self.loops:
            await loop.stop()
