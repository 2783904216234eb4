"""The certification job's other outcomes: a request already completed or gone, a proof that cannot be fetched
or certifies another hash, and the dead letter that fails the request for its client."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from certify_common.errors import failure
from certify_proxy.queue import jobs
from certify_proxy.queue import runner as jobrunner
from certify_proxy.queue.payloads import CertifyPayload
from certify_proxy.queue.worker import Done, JobContext, Retry
from certify_proxy.store.db import transaction
from certify_proxy.store.models import CertificationRequest, JobKind, StateTransition
from certify_proxy.tasks.certify import CertificationJob
from certify_testkit import answers

from .payment_stand import Stand, stand

__all__ = ["stand"]

TX = "cd" * 32
EXECUTED = answers.status(TX, "Executed")


class ScriptedCircular:
    """Answers each tool with a fixed answer (or calls it, for side effects) and records every call."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def call(self, server: str, tool: str, arguments: dict[str, Any], **_: Any) -> Any:
        assert server == "circular"
        self.calls.append(tool)
        answer = self.answers[tool]
        return await answer() if callable(answer) else answer


async def _queued(stand: Stand, request_key: str, **progress: Any) -> jobrunner.ClaimedJob:
    async with transaction(stand.runtime.sessions) as session:
        payload = CertifyPayload(request_key=request_key, **progress)
        await jobs.enqueue(session, JobKind.CERTIFY, f"{JobKind.CERTIFY}:{request_key}", payload, max_attempts=3)
    claimed = await jobrunner.claim(stand.runtime.sessions, "w", 30, postgres=False)
    assert claimed is not None
    return claimed


async def _run(stand: Stand, claimed: jobrunner.ClaimedJob, pool: ScriptedCircular) -> Any:
    stand.script_circular(pool)
    # One status poll per attempt.
    stand.runtime.settings = stand.runtime.settings.model_copy(update={"certify_deadline_s": 0.0})
    return await CertificationJob([1.0], not_found_grace_s=60).run(JobContext(stand.runtime, claimed, "w"))


def _proof(data_hash: str) -> dict[str, Any]:
    return answers.proof(TX, data_hash.removeprefix("0x"))


async def test_a_job_for_a_request_that_does_not_exist_is_retried_without_calling_circular(stand) -> None:  # type: ignore[no-untyped-def]
    pool = ScriptedCircular()
    outcome = await _run(stand, await _queued(stand, "nobody"), pool)
    assert outcome == Retry("request nobody does not exist")
    assert pool.calls == []


async def test_a_job_for_a_completed_request_finishes_without_calling_circular(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request(status="completed")
    pool = ScriptedCircular()
    outcome = await _run(stand, await _queued(stand, request.request_key), pool)
    assert isinstance(outcome, Done)
    assert pool.calls == []
    job = await stand.job(JobKind.CERTIFY, request.request_key)
    assert job is not None
    assert job.status == "done"


async def test_a_transaction_never_recorded_as_submitted_is_resubmitted_as_soon_as_it_is_not_found(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request(status="payment_verified")
    missing = failure("transaction_not_found", "not found", retryable=True)
    pool = ScriptedCircular(get_transaction_status=missing)
    outcome = await _run(stand, await _queued(stand, request.request_key, tx_id=TX), pool)
    assert isinstance(outcome, Retry)
    assert outcome.progress is not None
    assert (outcome.progress.tx_id, outcome.progress.submission) == (None, 1)
    assert (await stand.get(request.request_key)).status == "certifying"


async def test_an_executed_transaction_whose_proof_cannot_be_fetched_is_retried_on_the_same_transaction(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request(status="payment_verified")
    pool = ScriptedCircular(
        get_transaction_status=EXECUTED,
        get_certification_proof=failure("nag_unavailable", "down", retryable=True),
    )
    outcome = await _run(stand, await _queued(stand, request.request_key, tx_id=TX), pool)
    assert isinstance(outcome, Retry)
    assert outcome.progress is not None
    assert outcome.progress.tx_id == TX
    assert "nag_unavailable" in outcome.error
    assert (await stand.get(request.request_key)).status == "certifying"


async def test_a_proof_that_certifies_another_hash_never_completes_the_request(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request(status="payment_verified")
    pool = ScriptedCircular(get_transaction_status=EXECUTED, get_certification_proof=_proof("0x" + "00" * 32))
    outcome = await _run(stand, await _queued(stand, request.request_key, tx_id=TX), pool)
    assert outcome == Retry(f"the proof of {TX} certifies another hash", outcome.progress)
    assert (await stand.get(request.request_key)).status == "certifying"


async def test_a_request_purged_while_its_proof_was_fetched_is_retried_not_completed(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request(status="payment_verified")

    async def proof_after_a_purge() -> dict[str, Any]:
        """An operator deletes the request and its history meanwhile (the product itself never deletes one)."""
        async with transaction(stand.runtime.sessions) as session:
            for model in (StateTransition, CertificationRequest):
                table = model.__table__  # type: ignore[attr-defined]
                await session.execute(sa.delete(table).where(table.c.request_key == request.request_key))
        return _proof(request.data_hash)

    pool = ScriptedCircular(get_transaction_status=EXECUTED, get_certification_proof=proof_after_a_purge)
    outcome = await _run(stand, await _queued(stand, request.request_key, tx_id=TX), pool)
    assert outcome == Retry(f"request {request.request_key} vanished")


async def test_a_dead_lettered_certification_fails_the_request_and_tells_its_webhook(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request(status="certifying", callback_url="https://client.example/hook")
    claimed = await _queued(stand, request.request_key, tx_id=TX)
    async with transaction(stand.runtime.sessions) as session:
        await CertificationJob([1.0], 60).dead_lettered(stand.runtime, session, claimed, "still pending")
    row = await stand.get(request.request_key)
    assert (row.status, row.error_code, row.error_retryable) == ("failed", "certification_failed", False)
    assert row.error_message == f"certification failed after {claimed.attempts} attempts: still pending"
    assert await stand.kinds_queued(request.request_key) == [JobKind.CERTIFY, JobKind.WEBHOOK]


async def test_a_dead_letter_leaves_a_request_that_is_no_longer_certifying_or_gone_alone(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request(status="completed")
    claimed = await _queued(stand, request.request_key)
    gone = jobrunner.ClaimedJob(**{**claimed.__dict__, "payload": CertifyPayload(request_key="purged").to_json()})
    async with transaction(stand.runtime.sessions) as session:
        for job in (claimed, gone):
            await CertificationJob([1.0], 60).dead_lettered(stand.runtime, session, job, "late")
    row = await stand.get(request.request_key)
    assert (row.status, row.error_code) == ("completed", None)
    assert await stand.kinds_queued(request.request_key) == [JobKind.CERTIFY]
