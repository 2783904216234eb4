"""certify_certifications_total counts each request once; the duration runs from payment verified to completed."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from certify_proxy.certification.states import State
from certify_proxy.queue import jobs, runner
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.queue.worker import Done, JobContext
from certify_proxy.settings import ProxySettings
from certify_proxy.store import repositories as repo
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.models import CertificationRequest, JobKind, StateTransition, utcnow
from certify_proxy.tasks.certify import CertificationJob
from certify_proxy.upstream.circular import Circular
from certify_testkit import answers

DATA_HASH = "0x" + "ab" * 32
TX = "cd" * 32
PROOF = answers.proof(TX, "ab" * 32)


class FakeCircular:
    async def call(self, server: str, tool: str, arguments: dict[str, Any], **_: Any) -> dict[str, Any]:
        scripted = {
            "certify_data": answers.submitted(TX, "ab" * 32),
            "get_transaction_status": answers.status(TX, "Executed"),
            "get_certification_proof": PROOF,
        }
        return scripted[tool]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Any]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}"
    await upgrade_async(url)
    settings = ProxySettings(database_url=url, certify_poll_interval_s=0.01, certify_deadline_s=0.2)
    engine = create_engine(settings)
    yield types.SimpleNamespace(settings=settings, sessions=session_factory(engine))
    await engine.dispose()


async def add_request(db: Any, request_id: str, status: State, *, created_ago_s: float, verified_ago_s: float) -> None:
    now = utcnow()
    async with transaction(db.sessions) as session:
        created = now - timedelta(seconds=created_ago_s)
        session.add(
            CertificationRequest(
                request_key=request_id,
                owner=f"key:{request_id}",
                request_id=request_id,
                status=status.value,
                fingerprint="f",
                data_hash=DATA_HASH,
                data_size_bytes=1,
                network="base-sepolia",
                client_type="browser",
                public_token="t",
                created_at=created,
                updated_at=created,
            )
        )
        await session.flush()
        session.add(
            StateTransition(
                request_key=request_id,
                from_state=State.PAYMENT_PENDING.value,
                to_state=State.PAYMENT_VERIFIED.value,
                reason="paid",
                at=now - timedelta(seconds=verified_ago_s),
            )
        )


async def test_the_duration_is_measured_from_payment_verified_not_from_request_creation(db: Any) -> None:
    # The payer took an hour to pay; the service then took about five seconds.
    await add_request(db, "slow-payer", State.PAYMENT_VERIFIED, created_ago_s=3600, verified_ago_s=5)
    async with transaction(db.sessions) as session:
        await jobs.enqueue(
            session, JobKind.CERTIFY, "certify:slow-payer", CertifyPayload(request_key="slow-payer"), max_attempts=10
        )
    claimed = await runner.claim(db.sessions, "w", 30, postgres=False)
    assert claimed is not None
    count = sample("certify_certification_duration_seconds_count", client_type="browser")
    total = sample("certify_certification_duration_seconds_sum", client_type="browser")
    runtime = types.SimpleNamespace(
        settings=db.settings, sessions=db.sessions, pool=(pool := FakeCircular()), circular=Circular(pool)
    )
    outcome = await CertificationJob([1.0], not_found_grace_s=0).run(JobContext(runtime, claimed, "w"))  # type: ignore[arg-type]
    assert isinstance(outcome, Done)
    assert sample("certify_certification_duration_seconds_count", client_type="browser") == count + 1
    observed = sample("certify_certification_duration_seconds_sum", client_type="browser") - total
    assert 5 <= observed < 3600


async def test_a_requeued_dead_letter_that_completes_is_counted_once(db: Any) -> None:
    await add_request(db, "requeued", State.CERTIFYING, created_ago_s=60, verified_ago_s=50)
    failed = sample("certify_certifications_total", status="failed")
    completed = sample("certify_certifications_total", status="completed")
    recovered = sample("certify_certifications_recovered_total", status="completed")
    for target in (State.FAILED, State.CERTIFYING, State.COMPLETED):
        async with transaction(db.sessions) as session:
            request = await repo.get_request(session, "requeued", for_update=True)
            assert request is not None
            repo.transition(session, request, target, "step")
    assert sample("certify_certifications_total", status="failed") == failed + 1
    assert sample("certify_certifications_total", status="completed") == completed
    assert sample("certify_certifications_recovered_total", status="completed") == recovered + 1
