"""The durable queue on SQLite: claims are exclusive, leases expire into takeovers, outcomes need the lease."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.queue import deadletters, jobs, runner
from certify_proxy.queue.payloads import CertifyPayload, SettlePayload
from certify_proxy.queue.runner import LeaseLostError
from certify_proxy.queue.settings import retry_delay_s
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.models import JobKind, utcnow
from certify_proxy.tasks import reconciliation


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    await upgrade_async(url)
    engine = create_engine(ProxySettings(database_url=url))
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _enqueue(sessions: async_sessionmaker[AsyncSession], key: str, delay_s: float = 0.0) -> None:
    async with transaction(sessions) as session:
        await jobs.enqueue(
            session, JobKind.CERTIFY, key, CertifyPayload(request_key=key), max_attempts=2, delay_s=delay_s
        )


async def _claim(  # type: ignore[no-untyped-def]
    sessions: async_sessionmaker[AsyncSession], worker: str, lease_s: float = 30.0, later_s: float = 0.0
):
    """Claim as a worker would ``later_s`` seconds from now (leases ending before then have expired)."""
    now = utcnow() + timedelta(seconds=later_s)
    return await runner.claim(sessions, worker, lease_s, postgres=False, now=now)


async def test_each_due_job_is_claimed_by_exactly_one_of_many_concurrent_workers(sessions) -> None:  # type: ignore[no-untyped-def]
    for index in range(5):
        await _enqueue(sessions, f"job-{index}")
    await _enqueue(sessions, "later", delay_s=3600)
    claims = await asyncio.gather(*(_claim(sessions, f"w{index}") for index in range(8)), return_exceptions=True)
    claimed = [claim for claim in claims if isinstance(claim, runner.ClaimedJob)]
    assert sorted(claim.dedupe_key for claim in claimed) == [f"job-{index}" for index in range(5)]
    assert all(claim.attempts == 1 for claim in claimed)
    assert await _claim(sessions, "late") is None


async def test_a_job_whose_lease_expired_is_taken_over_and_the_old_holder_can_no_longer_write(sessions) -> None:  # type: ignore[no-untyped-def]
    await _enqueue(sessions, "crashy")
    first = await _claim(sessions, "dead-worker", lease_s=30)
    assert first is not None
    assert await _claim(sessions, "other", later_s=29) is None  # still leased then
    second = await _claim(sessions, "survivor", later_s=31)  # the lease ran out: a survivor takes the job over
    assert second is not None
    assert (second.id, second.attempts) == (first.id, 2)
    assert not await runner.renew(sessions, first.id, "dead-worker", 30)
    with pytest.raises(LeaseLostError):
        async with transaction(sessions) as session:
            await runner.finish(session, first.id, "dead-worker")
    async with transaction(sessions) as session:
        await runner.finish(session, second.id, "survivor")
    assert await _claim(sessions, "anyone", later_s=3600) is None  # long after every lease: finished stays finished


async def test_a_rescheduled_job_waits_for_its_run_at(sessions) -> None:  # type: ignore[no-untyped-def]
    await _enqueue(sessions, "flaky")
    job = await _claim(sessions, "w")
    assert job is not None
    async with transaction(sessions) as session:
        await runner.reschedule(session, job.id, "w", 3600, "nag_unavailable: down")
    assert await _claim(sessions, "w") is None
    async with sessions() as session:
        assert await deadletters.stuck_jobs(session, stuck_after_s=1, limit=10) == []


async def test_an_abandoned_job_is_listed_as_stuck(sessions) -> None:  # type: ignore[no-untyped-def]
    await _enqueue(sessions, "abandoned", delay_s=-120)
    job = await _claim(sessions, "gone", lease_s=1, later_s=-60)  # claimed a minute ago; its lease has run out
    assert job is not None
    async with sessions() as session:
        stuck = await deadletters.stuck_jobs(session, stuck_after_s=300, limit=10)
    assert [(row.id, row.status, row.locked_by) for row in stuck] == [(job.id, "running", "gone")]


async def test_a_dead_letter_is_listed_and_can_be_requeued_once_with_fresh_attempts(sessions) -> None:  # type: ignore[no-untyped-def]
    await _enqueue(sessions, "hopeless")
    job = await _claim(sessions, "w")
    assert job is not None
    async with transaction(sessions) as session:
        dead = await runner.dead_letter(session, job, "w", "nag_unavailable: still down")
    async with sessions() as session:
        listed = await deadletters.list_dead_letters(session, include_requeued=False, limit=10)
    assert [deadletters.dead_letter_view(row, {}).error for row in listed] == ["nag_unavailable: still down"]
    assert await _claim(sessions, "w") is None
    async with transaction(sessions) as session:
        assert await deadletters.requeue(session, dead.id or 0) is not None
    async with transaction(sessions) as session:
        assert await deadletters.requeue(session, dead.id or 0) is None
    again = await _claim(sessions, "w")
    assert again is not None
    assert (again.id, again.attempts) == (job.id, 1)
    async with sessions() as session:
        assert await deadletters.list_dead_letters(session, include_requeued=False, limit=10) == []


def test_the_retry_schedule_repeats_its_last_delay() -> None:
    delays = [5.0, 10.0, 20.0, 40.0, 60.0]
    assert [retry_delay_s(delays, attempt) for attempt in range(1, 11)] == [5, 10, 20, 40, 60, 60, 60, 60, 60, 60]


async def test_a_job_released_at_shutdown_is_due_again_without_spending_an_attempt(sessions) -> None:  # type: ignore[no-untyped-def]
    await _enqueue(sessions, "interrupted")
    job = await _claim(sessions, "stopping")
    assert job is not None
    assert await runner.release(sessions, job.id, "stopping")
    assert not await runner.release(sessions, job.id, "stopping")
    again = await _claim(sessions, "next")
    assert again is not None
    assert (again.id, again.attempts) == (job.id, 1)


def test_an_unbounded_job_is_never_exhausted_and_a_bounded_one_is_at_its_limit() -> None:
    assert not runner.exhausted(10_000, runner.UNBOUNDED)
    assert [runner.exhausted(attempts, 3) for attempts in (2, 3, 4)] == [False, True, True]


async def test_a_settlement_dead_letter_is_requeued_unbounded_and_its_payment_header_can_be_forgotten(sessions) -> None:  # type: ignore[no-untyped-def]
    async with transaction(sessions) as session:
        payload = SettlePayload(request_key="paid-1", payment_header="c2VjcmV0", payment_requirements=None)
        await jobs.enqueue(
            session, JobKind.SETTLE_RECONCILE, f"{JobKind.SETTLE_RECONCILE}:paid-1", payload, max_attempts=1
        )
    job = await _claim(sessions, "w")
    assert job is not None
    async with transaction(sessions) as session:
        dead = await runner.dead_letter(session, job, "w", "settlement_unconfirmed: old bound")
    async with transaction(sessions) as session:
        assert await deadletters.requeue(session, dead.id or 0) is not None
    async with sessions() as session:
        requeued = await jobs.job_for_request(session, JobKind.SETTLE_RECONCILE, "paid-1")
    assert requeued is not None
    assert (requeued.status, requeued.max_attempts) == ("queued", runner.UNBOUNDED)
    async with transaction(sessions) as session:
        await reconciliation.forget_payment_header(session, "paid-1")
    async with sessions() as session:
        kept = await jobs.job_for_request(session, JobKind.SETTLE_RECONCILE, "paid-1")
        letters = await deadletters.list_dead_letters(session, include_requeued=True, limit=10)
    assert kept is not None
    assert "c2VjcmV0" not in kept.payload
    assert ["c2VjcmV0" in row.payload for row in letters] == [False]
