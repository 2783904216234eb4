"""Graceful shutdown (SIGTERM → lifespan stop): workers stop claiming and hand their running jobs back at once,
so a rolling deployment does not leave jobs waiting for a lease to expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from certify_proxy.queue import jobs, runner
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.queue.worker import Done, JobContext, Outcome, Workers
from certify_proxy.runtime import Runtime
from certify_proxy.store.db import transaction
from certify_proxy.store.models import JobKind

from .queue_stand import queue_runtime


class Blocking:
    """A handler whose attempt runs until it is cancelled."""

    def __init__(self) -> None:
        self.retry_delays_s = [5.0]
        self.started = asyncio.Event()

    async def run(self, context: JobContext) -> Outcome:
        self.started.set()
        await asyncio.Event().wait()
        return Done()

    async def dead_lettered(self, *args: Any) -> None:
        raise AssertionError("never dead-lettered here")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with queue_runtime(tmp_path, job_workers=2, job_poll_interval_s=0.05, job_lease_s=300) as runtime:
        yield runtime


async def test_stopping_releases_the_running_job_at_once_and_claims_nothing_more(runtime: Runtime) -> None:
    async with transaction(runtime.sessions) as session:
        await jobs.enqueue(session, JobKind.CERTIFY, "long", CertifyPayload(request_key="long"), max_attempts=3)
    handler = Blocking()
    workers = Workers(runtime, {JobKind.CERTIFY: handler})
    workers.start()
    await asyncio.wait_for(handler.started.wait(), 10)

    await asyncio.wait_for(workers.stop(), 10)

    async with transaction(runtime.sessions) as session:
        await jobs.enqueue(session, JobKind.CERTIFY, "after", CertifyPayload(request_key="after"), max_attempts=3)
    # The lease was 300 s: only a release at shutdown makes the job due again right away, attempt unspent.
    taken = [await runner.claim(runtime.sessions, "next-pod", 30, postgres=False) for _ in range(2)]
    assert sorted((job.dedupe_key, job.attempts) for job in taken if job) == [("after", 1), ("long", 1)]
