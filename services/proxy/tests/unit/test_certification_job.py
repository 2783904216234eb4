"""The certification job's decisions against a scripted circular server: poll the same transaction while
it is in flight, submit anew (new idempotency key) only after a definite rejection or a grace period."""

from __future__ import annotations

import json
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from certify_common.errors import Failure, failure
from certify_proxy.queue import jobs, runner
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.queue.worker import Done, JobContext, Retry
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.models import CertificationRequest, JobKind, utcnow
from certify_proxy.tasks.certify import CertificationJob, idempotency_key
from certify_proxy.upstream.circular import Circular
from certify_testkit import answers

DATA_HASH = "0x" + "ab" * 32
TX = "cd" * 32


class ScriptedCircular:
    """Answers each tool from a list (the last answer repeats) and records every call."""

    def __init__(self, **answers: list[dict[str, Any] | Failure]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, server: str, tool: str, arguments: dict[str, Any], **_: Any) -> dict[str, Any] | Failure:
        assert server == "circular"
        self.calls.append((tool, arguments))
        queue = self.answers[tool]
        return queue.pop(0) if len(queue) > 1 else queue[0]


def _status(status: str) -> dict[str, Any]:
    return answers.status(TX, status)


PROOF = answers.proof(TX, "ab" * 32)
SUBMITTED = answers.submitted(TX, "ab" * 32)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Any]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'job.db'}"
    await upgrade_async(url)
    settings = ProxySettings(
        database_url=url, certify_poll_interval_s=0.01, certify_deadline_s=0.2, certify_not_found_grace_s=0.0
    )
    engine = create_engine(settings)
    sessions = session_factory(engine)

    async def attempt(pool: ScriptedCircular, progress: dict[str, Any] | None = None) -> Any:
        request_id = f"r-{len(pool.calls)}-{id(pool)}"
        async with transaction(sessions) as session:
            now = utcnow()
            session.add(
                CertificationRequest(
                    request_key=request_id,
                    owner="key:1",
                    request_id=request_id,
                    status="payment_verified",
                    fingerprint="f",
                    data_hash=DATA_HASH,
                    data_size_bytes=1,
                    network="base-sepolia",
                    client_type="agent",
                    public_token="t",
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
            payload = CertifyPayload.model_validate({"request_key": request_id, **(progress or {})})
            await jobs.enqueue(session, JobKind.CERTIFY, f"certify:{request_id}", payload, max_attempts=10)
        claimed = await runner.claim(sessions, "w", 30, postgres=False)
        assert claimed is not None
        runtime = types.SimpleNamespace(settings=settings, sessions=sessions, pool=pool, circular=Circular(pool))
        handler = CertificationJob([1.0], not_found_grace_s=settings.certify_not_found_grace_s)
        outcome = await handler.run(JobContext(runtime, claimed, "w"))  # type: ignore[arg-type]
        async with sessions() as session:
            job = await jobs.job_for_request(session, JobKind.CERTIFY, request_id)
        assert job is not None
        return outcome, json.loads(job.payload), job.status

    yield attempt
    await engine.dispose()


async def test_an_executed_transaction_completes_the_job_with_the_request_key_as_idempotency_key(harness) -> None:  # type: ignore[no-untyped-def]
    pool = ScriptedCircular(
        certify_data=[SUBMITTED],
        get_transaction_status=[_status("Pending"), _status("Verified"), _status("Executed")],
        get_certification_proof=[PROOF],
    )
    outcome, payload, status = await harness(pool)
    assert isinstance(outcome, Done)
    assert status == "done"
    assert pool.calls[0] == ("certify_data", {"data_hash": DATA_HASH, "idempotency_key": payload["request_key"]})
    assert payload["tx_id"] == TX
    assert {"submit_started_at", "submitted_at", "executed_at"} <= set(payload)


async def test_pending_past_the_deadline_is_retried_on_the_same_transaction(harness) -> None:  # type: ignore[no-untyped-def]
    pool = ScriptedCircular(certify_data=[SUBMITTED], get_transaction_status=[_status("Pending")])
    outcome, _, _ = await harness(pool)
    assert isinstance(outcome, Retry)
    assert outcome.progress is not None
    assert outcome.progress == CertifyPayload.model_validate_json(outcome.progress.to_json())
    assert (outcome.progress.tx_id, outcome.progress.submission) == (TX, 0)
    assert [tool for tool, _ in pool.calls].count("certify_data") == 1


async def test_a_transaction_ending_otherwise_than_executed_is_submitted_anew_under_a_new_key(harness) -> None:  # type: ignore[no-untyped-def]
    pool = ScriptedCircular(get_transaction_status=[_status("Rejected")])
    outcome, _, _ = await harness(pool, {"tx_id": TX, "submitted_at": utcnow().isoformat()})
    assert isinstance(outcome, Retry)
    assert outcome.progress is not None
    assert (outcome.progress.tx_id, outcome.progress.submitted_at, outcome.progress.submission) == (None, None, 1)
    assert idempotency_key("req", 1) != idempotency_key("req", 0) == "req"


async def test_a_transaction_unknown_after_the_grace_period_is_submitted_anew(harness) -> None:  # type: ignore[no-untyped-def]
    missing = failure("transaction_not_found", "not found", retryable=True)
    pool = ScriptedCircular(get_transaction_status=[missing])
    outcome, _, _ = await harness(pool, {"tx_id": TX, "submitted_at": "2026-01-01T00:00:00+00:00"})
    assert isinstance(outcome, Retry)
    assert outcome.progress is not None
    assert outcome.progress.submission == 1


async def test_a_retryable_refusal_keeps_the_key_and_a_definite_one_changes_it(harness) -> None:  # type: ignore[no-untyped-def]
    busy = ScriptedCircular(certify_data=[failure("nag_unavailable", "down", retryable=True)])
    outcome, _, _ = await harness(busy)
    assert isinstance(outcome, Retry)
    assert outcome.progress is not None
    assert outcome.progress.submission == 0
    refused = ScriptedCircular(certify_data=[failure("invalid_signature", "bad", retryable=False)])
    outcome, _, _ = await harness(refused)
    assert isinstance(outcome, Retry)
    assert outcome.progress is not None
    assert outcome.progress.submission == 1
