"""Paid submissions racing each other, the reconciliation job or an operator: a held lock, a reservation made
by a process without the lock, a slow settle recorded first by the job, rows that vanished meanwhile."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from certify_common.errors import FailureError
from certify_proxy.certification import payments as paying
from certify_proxy.certification.intake import Settled
from certify_proxy.queue.payloads import SettlePayload
from certify_proxy.store.db import transaction
from certify_proxy.store.models import JobKind, Payment, utcnow
from certify_proxy.tasks.settle import reserve_settlement

from .payment_stand import SETTLED, Stand, header, stand, verdict

__all__ = ["stand"]

VALID = verdict()


async def _refused(stand: Stand, request: Any, payment_header: str) -> FailureError:
    with pytest.raises(FailureError) as raised:
        await paying.pay(stand.runtime, request, payment_header)
    return raised.value


async def test_a_payment_being_processed_elsewhere_is_answered_retryable_in_progress(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID])
    request = await stand.request()
    paid = header()
    lock_s = stand.runtime.settings.payment_lock_s
    async with stand.runtime.kv.lock(f"pay:request:{request.request_key}", ttl_s=10, wait_s=lock_s):
        error = await _refused(stand, request, paid)
    assert (error.failure.code, error.failure.retryable) == ("payment_in_progress", True)
    assert pool.calls == []


async def test_a_request_reserved_by_a_process_without_the_lock_answers_that_state(stand) -> None:  # type: ignore[no-untyped-def]
    """Two processes without shared locks: the other one reserved between our read and our reservation."""
    request = await stand.request()
    other = header()

    async def verify_then_lose_the_race(server: str, tool: str, arguments: dict[str, Any], **_: Any) -> Any:
        decoded = paying.decode_payment_header(other)
        assert not isinstance(decoded, paying.Failure)
        await reserve_settlement(stand.runtime, decoded[0], SettlePayload(request_key=request.request_key), 60)
        return VALID

    stand.runtime.pool.call = verify_then_lose_the_race
    outcome = await paying.pay(stand.runtime, request, header())

    assert (outcome.kind, outcome.body.status) == (Settled.ACCEPTED, "payment_pending")
    [payment] = await stand.payments(request.request_key)
    assert payment.nonce == paying.decode_payment_header(other)[0].nonce  # type: ignore[index]


async def test_a_reservation_refused_for_another_reason_is_not_swallowed(stand, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stand.script(verify_payment=[VALID])
    request = await stand.request()

    async def refused(*_: Any) -> None:
        raise IntegrityError("INSERT", {}, Exception("another constraint"))

    monkeypatch.setattr(paying, "reserve_settlement", refused)
    with pytest.raises(IntegrityError):
        await paying.pay(stand.runtime, request, header())


async def test_a_settlement_recorded_first_by_the_reconciliation_job_is_not_recorded_twice(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request()
    settled_at = utcnow()

    async def settle_slowly(server: str, tool: str, arguments: dict[str, Any], **_: Any) -> Any:
        if tool == "verify_payment":
            return VALID
        async with transaction(stand.runtime.sessions) as session:  # the job concluded meanwhile
            await session.execute(
                sa.update(Payment)
                .where(Payment.request_key == request.request_key)  # type: ignore[arg-type]
                .values(status="settled", tx_hash="0xjob", settled_at=settled_at)
            )
        return SETTLED

    stand.runtime.pool.call = settle_slowly
    outcome = await paying.pay(stand.runtime, request, header())

    [payment] = await stand.payments(request.request_key)
    assert payment.tx_hash == "0xjob"
    assert outcome.headers["PAYMENT-RESPONSE"] == SETTLED["payment_response_header"]
    assert await stand.job(JobKind.CERTIFY, request.request_key) is None


async def test_a_reservation_that_vanished_before_the_record_is_a_bug_not_a_silent_success(stand) -> None:  # type: ignore[no-untyped-def]
    request = await stand.request()

    async def settle_after_a_purge(server: str, tool: str, arguments: dict[str, Any], **_: Any) -> Any:
        if tool == "verify_payment":
            return VALID
        async with transaction(stand.runtime.sessions) as session:
            await session.execute(sa.delete(Payment).where(Payment.request_key == request.request_key))  # type: ignore[arg-type]
        return SETTLED

    stand.runtime.pool.call = settle_after_a_purge
    with pytest.raises(RuntimeError, match="reserved before settlement is missing"):
        await paying.pay(stand.runtime, request, header())


async def test_a_payment_for_a_vanished_request_is_a_bug_not_a_charge(stand) -> None:  # type: ignore[no-untyped-def]
    pool = stand.script(verify_payment=[VALID])
    request = await stand.request()
    async with transaction(stand.runtime.sessions) as session:
        await session.delete(await stand.get(request.request_key))
    with pytest.raises(RuntimeError, match="vanished"):
        await paying.pay(stand.runtime, request, header())
    assert pool.calls == []
