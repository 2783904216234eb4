"""A job remembers the trace of the request that enqueued it, so its runs can link back to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.queue import jobs, runner
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.models import JobKind


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    await upgrade_async(url)
    engine = create_engine(ProxySettings(database_url=url))
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _enqueue(sessions: async_sessionmaker[AsyncSession], key: str) -> None:
    async with transaction(sessions) as session:
        await jobs.enqueue(session, JobKind.CERTIFY, key, CertifyPayload(request_key=key), max_attempts=2)


async def test_a_job_enqueued_inside_a_request_span_is_claimed_with_that_spans_context(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with TracerProvider().get_tracer("test").start_as_current_span("POST /v1/certify") as request:
        await _enqueue(sessions, "paid")
    claimed = await runner.claim(sessions, "w1", 30.0, postgres=False)
    assert claimed is not None
    assert claimed.trace_context is not None
    context = request.get_span_context()
    traceparent = json.loads(claimed.trace_context)["traceparent"]
    assert traceparent == f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"


async def test_a_job_enqueued_outside_any_span_has_no_trace_context(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _enqueue(sessions, "background")
    claimed = await runner.claim(sessions, "w1", 30.0, postgres=False)
    assert claimed is not None
    assert claimed.trace_context is None
