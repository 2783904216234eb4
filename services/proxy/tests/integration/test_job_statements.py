"""The paid path's single statements on PostgreSQL and SQLite: enqueueing by ``INSERT … ON CONFLICT DO NOTHING``,
closing a reconciliation job that is only waiting, and one query for an authorization's and a request's payment."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.queue import jobs
from certify_proxy.queue.payloads import CertifyPayload, SettlePayload
from certify_proxy.settings import ProxySettings
from certify_proxy.store import jobs as job_rows
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.jobs import JOBS
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.models import (
    CertificationRequest,
    DeadLetter,
    Job,
    JobKind,
    Payment,
    PaymentStatus,
    aware,
    utcnow,
)
from certify_proxy.tasks.reconciliation import forget_payment_header
from certify_testkit.processes import eventually

pytestmark = pytest.mark.integration

SECRET = "c2VjcmV0LWhlYWRlcg=="


@pytest.fixture(params=["postgresql", "sqlite"])
async def engine(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = pg_url if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    await upgrade_async(url)
    engine = create_engine(ProxySettings(database_url=url, certify_env="test"))
    yield engine
    await engine.dispose()


def _settle_job(request_key: str) -> tuple[str, SettlePayload]:
    payload = SettlePayload(request_key=request_key, payment_header=SECRET, payment_requirements=None)
    return f"{JobKind.SETTLE_RECONCILE}:{request_key}", payload


async def _job(sessions: async_sessionmaker[AsyncSession], dedupe_key: str) -> Job:
    async with sessions() as session:
        rows = list((await session.execute(sa.select(Job).where(Job.dedupe_key == dedupe_key))).scalars())  # type: ignore[arg-type]
    [job] = rows
    return job


async def _request(sessions: async_sessionmaker[AsyncSession]) -> str:
    key = uuid.uuid4().hex
    now = utcnow()
    async with transaction(sessions) as session:
        session.add(
            CertificationRequest(
                request_key=key,
                owner="key:1",
                request_id=f"r-{key[:8]}",
                status="payment_pending",
                fingerprint="f",
                data_hash="0x" + "ab" * 32,
                data_size_bytes=1,
                network="base-sepolia",
                client_type="agent",
                public_token=f"token-{key}",
                created_at=now,
                updated_at=now,
            )
        )
    return key


async def _paid(sessions: async_sessionmaker[AsyncSession], request_key: str, payer: str, nonce: str) -> None:
    async with transaction(sessions) as session:
        session.add(
            Payment(
                request_key=request_key,
                network="base-sepolia",
                payer=payer,
                nonce=nonce,
                amount_atomic=1000,
                status=PaymentStatus.SETTLED,
                created_at=utcnow(),
            )
        )


async def test_enqueueing_a_key_twice_keeps_the_first_job_and_answers_it(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    key = f"{JobKind.CERTIFY}:{uuid.uuid4().hex}"
    async with transaction(sessions) as session:
        first = await jobs.enqueue(session, JobKind.CERTIFY, key, CertifyPayload(request_key="a"), max_attempts=3)
    async with transaction(sessions) as session:
        again = await jobs.enqueue(
            session, JobKind.CERTIFY, key, CertifyPayload(request_key="b"), max_attempts=9, delay_s=60
        )
    stored = await _job(sessions, key)
    assert first.id == again.id == stored.id
    assert (again.status, again.attempts, again.last_error) == ("queued", 0, None)
    assert json.loads(again.payload) == json.loads(stored.payload) == {"request_key": "a"}
    assert stored.max_attempts == 3


async def test_arming_a_key_starts_an_idle_job_over_and_leaves_a_held_one_to_its_worker(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    key, payload = _settle_job(uuid.uuid4().hex)
    async with transaction(sessions) as session:
        first = await jobs.arm(session, JobKind.SETTLE_RECONCILE, key, payload, max_attempts=0, delay_s=60)
    assert first is not None
    now = utcnow()
    held = {"status": "running", "attempts": 3, "last_error": "boom", "locked_by": "w1"}
    async with transaction(sessions) as session:
        await session.execute(
            sa.update(JOBS).where(JOBS.c.id == first.id).values(lease_until=now + timedelta(minutes=5), **held)
        )
        again = await jobs.arm(
            session, JobKind.SETTLE_RECONCILE, key, SettlePayload(request_key="other"), max_attempts=0
        )
    assert again is None
    stored = await _job(sessions, key)
    assert (stored.status, stored.attempts, stored.locked_by, json.loads(stored.payload)["payment_header"]) == (
        "running",
        3,
        "w1",
        SECRET,
    )

    stale_states = [("running", now - timedelta(seconds=1), 30), ("done", None, 600), ("queued", None, 3600)]
    for status, lease_until, delay_s in stale_states:
        stale = {"status": status, "lease_until": lease_until, "attempts": 3, "last_error": "boom", "locked_by": "w1"}
        async with transaction(sessions) as session:
            await session.execute(sa.update(JOBS).where(JOBS.c.id == first.id).values(**stale))
            fresh = SettlePayload(request_key=status, payment_header="bmV3", payment_requirements=None)
            armed = await jobs.arm(session, JobKind.SETTLE_RECONCILE, key, fresh, max_attempts=0, delay_s=delay_s)
        assert armed is not None
        assert armed.id == first.id
        stored = await _job(sessions, key)
        assert (stored.status, stored.attempts, stored.last_error, stored.locked_by, stored.lease_until) == (
            "queued",
            0,
            None,
            None,
            None,
        ), status
        assert json.loads(stored.payload) == {"request_key": status, "payment_header": "bmV3"}
        assert abs((aware(stored.run_at) - (utcnow() + timedelta(seconds=delay_s))).total_seconds()) < 5
        # The worker that held it (its lease expired, yet it may still run) can no longer write to it.
        async with transaction(sessions) as session:
            assert not await job_rows.finish(session, first.id, "w1")
            assert not await job_rows.save_payload(session, first.id, "w1", "{}")
            assert not await job_rows.renew_lease(session, first.id, "w1", utcnow() + timedelta(minutes=5))


async def _waiting_on_a_lock(engine: AsyncEngine) -> bool:
    """Whether a session of this database waits on a lock (the second enqueue, on the uncommitted key)."""
    statement = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with engine.connect() as connection:
        return bool((await connection.execute(statement)).scalar_one())


async def test_a_concurrent_enqueue_of_the_same_key_waits_and_answers_the_committed_job(pg_url: str) -> None:
    """On PostgreSQL a second transaction enqueueing an uncommitted key waits for the first, then keeps its job
    (a SELECT-then-INSERT would fail on the unique key instead)."""
    await upgrade_async(pg_url)
    engine = create_engine(ProxySettings(database_url=pg_url, certify_env="test"))
    sessions = session_factory(engine)
    key = f"{JobKind.CERTIFY}:{uuid.uuid4().hex}"
    try:
        async with transaction(sessions) as holder:
            first = await jobs.enqueue(holder, JobKind.CERTIFY, key, CertifyPayload(request_key="a"), max_attempts=3)

            async def second() -> jobs.Enqueued:
                async with transaction(sessions) as session:
                    payload = CertifyPayload(request_key="b")
                    return await jobs.enqueue(session, JobKind.CERTIFY, key, payload, max_attempts=3)

            waiting = asyncio.create_task(second())
            await eventually(lambda: _waiting_on_a_lock(engine), timeout_s=30, what="the second enqueue to wait")
            assert not waiting.done()
        assert (await waiting).id == first.id
    finally:
        await engine.dispose()


async def test_a_recorded_settlement_closes_its_waiting_job_and_forgets_the_header_everywhere(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    request_key = uuid.uuid4().hex
    dedupe_key, payload = _settle_job(request_key)
    async with transaction(sessions) as session:
        job = await jobs.enqueue(session, JobKind.SETTLE_RECONCILE, dedupe_key, payload, max_attempts=1, delay_s=60)
        session.add(
            DeadLetter(
                job_id=job.id,
                kind=JobKind.SETTLE_RECONCILE,
                payload=payload.to_json(),
                error="e",
                attempts=1,
                created_at=utcnow(),
            )
        )
    async with transaction(sessions) as session:
        await forget_payment_header(session, request_key)

    stored = await _job(sessions, dedupe_key)
    assert stored.status == "done"
    assert json.loads(stored.payload) == {"request_key": request_key}
    async with sessions() as session:
        statement = sa.select(DeadLetter.payload).where(DeadLetter.job_id == job.id)  # type: ignore[call-overload,arg-type]
        letters = list((await session.execute(statement)).scalars())
    assert [json.loads(letter) for letter in letters] == [{"request_key": request_key}]


async def test_a_held_reconciliation_job_keeps_its_state_when_the_header_is_forgotten(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    request_key = uuid.uuid4().hex
    dedupe_key, payload = _settle_job(request_key)
    async with transaction(sessions) as session:
        await jobs.enqueue(session, JobKind.SETTLE_RECONCILE, dedupe_key, payload, max_attempts=1)
        await session.execute(sa.update(Job).where(Job.dedupe_key == dedupe_key).values(status="running"))  # type: ignore[arg-type]
    async with transaction(sessions) as session:
        await forget_payment_header(session, request_key)
        await forget_payment_header(session, "no-such-request")  # nothing to forget: no error

    stored = await _job(sessions, dedupe_key)
    assert stored.status == "running"  # its worker finishes it
    assert SECRET not in stored.payload


async def test_one_query_finds_the_request_the_authorizations_payment_and_the_requests(engine: AsyncEngine) -> None:
    sessions = session_factory(engine)
    mine, other, unpaid = await _request(sessions), await _request(sessions), await _request(sessions)
    await _paid(sessions, mine, "0xpayer", "0x01")
    await _paid(sessions, other, "0xpayer", "0x02")

    async with sessions() as session:
        same = await repo.request_and_payments(session, mine, "base-sepolia", "0xPAYER", "0x01")
        elsewhere = await repo.request_and_payments(session, mine, "base-sepolia", "0xpayer", "0x02")
        unpaid_auth = await repo.request_and_payments(session, mine, "base-sepolia", "0xpayer", "0x03")
        neither = await repo.request_and_payments(session, unpaid, "base-sepolia", "0xpayer", "0x03")
        paid_elsewhere = await repo.request_and_payments(session, unpaid, "base-sepolia", "0xpayer", "0x02")
        nothing = await repo.request_and_payments(session, "no-such-request", "base-sepolia", "0xpayer", "0x01")

    def keys(found: tuple[Any, ...]) -> list[str | None]:
        return [None if row is None else row.request_key for row in found]

    assert keys(same) == [mine, mine, mine]
    assert keys(elsewhere) == [mine, other, mine]
    assert keys(unpaid_auth) == [mine, None, mine]
    assert keys(neither) == [unpaid, None, None]
    assert keys(paid_elsewhere) == [unpaid, other, None]
    assert nothing == (None, None, None)  # the authorization's payment is not looked for without the request
    assert same[0] is not None
    assert same[0].status == "payment_pending"
