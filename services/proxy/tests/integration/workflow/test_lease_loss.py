"""A worker whose lease is taken over stops its attempt: the real queue on PostgreSQL."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.kv import MemoryKeyValue
from certify_proxy.api.ratelimit import MemoryRateLimiter
from certify_proxy.api_keys import KeyCache
from certify_proxy.certification.offer_cache import OfferCache
from certify_proxy.queue import jobs, runner
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.queue.runner import ClaimedJob
from certify_proxy.queue.worker import Done, JobContext, Outcome, Workers
from certify_proxy.runtime import Runtime
from certify_proxy.settings import ProxySettings
from certify_proxy.store import jobs as job_rows
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.models import JobKind, utcnow
from certify_proxy.upstream.pool import McpPool
from certify_proxy.upstream.quote import Quotes
from certify_proxy.upstream.x402 import X402

pytestmark = pytest.mark.integration

LEASE_S = 0.9


class BlockingHandler:
    """Holds its attempt open until ``finish_now`` is set, then marks the job done; records a cancellation."""

    def __init__(self) -> None:
        self.retry_delays_s = [0.1]
        self.started = asyncio.Event()
        self.finish_now = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.wrote = False

    async def run(self, context: JobContext) -> Outcome:
        self.started.set()
        try:
            await self.finish_now.wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        async with transaction(context.runtime.sessions) as session:
            await context.finish(session)
        self.wrote = True
        return Done()

    async def dead_lettered(self, runtime: Runtime, session: AsyncSession, job: ClaimedJob, error: str) -> None:
        return None


async def _wait(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), 20)
    except TimeoutError:
        pytest.fail(f"timed out waiting until {what}")


def _runtime(url: str, engine: AsyncEngine) -> Runtime:
    settings = ProxySettings(database_url=url, job_workers=1, job_poll_interval_s=0.05, job_lease_s=LEASE_S)
    pool = McpPool({}, call_timeout_s=1)
    kv = MemoryKeyValue()
    return Runtime(
        settings,
        engine,
        session_factory(engine),
        kv,
        MemoryRateLimiter(),
        pool,
        httpx.AsyncClient(),
        OfferCache(Quotes(pool), X402(pool), kv, settings),
        KeyCache(settings.api_key_cache_ttl_s),
    )


async def _steal_and_watch(url: str) -> tuple[BlockingHandler, list[tuple[str, str | None]]]:
    await upgrade_async(url)
    engine = create_engine(ProxySettings(database_url=url))
    runtime = _runtime(url, engine)
    handler = BlockingHandler()
    workers = Workers(runtime, {JobKind.CERTIFY: handler})
    try:
        async with transaction(runtime.sessions) as session:
            job = await jobs.enqueue(
                session, JobKind.CERTIFY, "certify:stolen", CertifyPayload(request_key="stolen"), max_attempts=3
            )
        workers.start()
        await _wait(handler.started, "the worker started the attempt")
        # Another worker, once the lease has expired, takes the job over (a clock one hour ahead sees it expired).
        later = utcnow() + timedelta(hours=1)
        thief = await runner.claim(runtime.sessions, "thief", 3600, postgres=True, now=later)
        assert thief is not None
        assert thief.id == job.id
        await _wait(handler.cancelled, "the first worker's attempt was cancelled")
        handler.finish_now.set()
        async with runtime.sessions() as session:
            rows = await session.execute(
                job_rows.JOBS.select().where(job_rows.JOBS.c.id == job.id)  # the row as the thief left it
            )
            states = [(str(row.status), row.locked_by) for row in rows]
        return handler, states
    finally:
        await workers.stop()
        await runtime.close()


def test_a_worker_whose_lease_was_taken_over_cancels_its_attempt_and_writes_nothing(
    databases: Callable[[], types.SimpleNamespace],
) -> None:
    handler, states = asyncio.run(_steal_and_watch(databases().url))
    assert handler.cancelled.is_set()
    assert not handler.wrote
    assert states == [("running", "thief")]
