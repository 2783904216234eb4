"""Queries and writes on the proxy's tables; every function takes the caller's session (and transaction)."""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.certification.states import FINAL, State, check_transition
from certify_proxy.metrics import (
    CERTIFICATION_DURATION,
    CERTIFICATIONS,
    CERTIFICATIONS_RECOVERED,
    STATE_TRANSITIONS,
)
from certify_proxy.store.models import (
    Certification,
    CertificationRequest,
    Payment,
    StateTransition,
    aware,
    utcnow,
)

logger = logging.getLogger("certify.proxy.states")


async def get_request(
    session: AsyncSession, request_key: str, *, for_update: bool = False
) -> CertificationRequest | None:
    """The request row by its internal key, optionally locked for the rest of the transaction (PostgreSQL)."""
    statement = select(CertificationRequest).where(CertificationRequest.request_key == request_key)  # type: ignore[arg-type]
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def find_request(session: AsyncSession, owner: str, request_id: str) -> CertificationRequest | None:
    """The request ``owner`` created under its ``request_id`` (ids are scoped per owner)."""
    statement = select(CertificationRequest).where(
        CertificationRequest.owner == owner,  # type: ignore[arg-type]
        CertificationRequest.request_id == request_id,  # type: ignore[arg-type]
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def requests_with_id(session: AsyncSession, request_id: str, *, keyless_only: bool) -> list[CertificationRequest]:
    """Every owner's request under ``request_id`` (token lookups compare each one's token)."""
    statement = select(CertificationRequest).where(CertificationRequest.request_id == request_id)  # type: ignore[arg-type]
    if keyless_only:
        statement = statement.where(CertificationRequest.api_key_id.is_(None))  # type: ignore[union-attr]
    return list((await session.execute(statement)).scalars())


def transition(
    session: AsyncSession,
    request: CertificationRequest,
    target: State,
    reason: str,
    *,
    verified_at: datetime | None = None,
) -> None:
    """Move a request to ``target`` (validated) and record the step; flushed with the caller's transaction.

    A request is counted in ``certify_certifications_total`` once, at its first final state: a dead
    letter re-queued by an operator that then completes was already counted as failed and is counted
    in ``certify_certifications_recovered_total`` instead. The duration is observed for first
    completions only, from ``verified_at`` (the payment-verified step) to now: the payer's own delay
    before paying is not the service's time.
    """
    current = State(request.status)
    check_transition(current, target)
    now = utcnow()
    request.status = target.value
    request.updated_at = now
    if target in FINAL:
        first_final = request.completed_at is None
        request.completed_at = now
        if first_final:
            CERTIFICATIONS.labels(target.value).inc()
            verified = aware(verified_at)
            if target == State.COMPLETED and verified is not None:
                CERTIFICATION_DURATION.labels(request.client_type).observe((now - verified).total_seconds())
        else:
            CERTIFICATIONS_RECOVERED.labels(target.value).inc()
    session.add(request)
    session.add(
        StateTransition(
            request_key=request.request_key, from_state=current.value, to_state=target, reason=reason, at=now
        )
    )
    STATE_TRANSITIONS.labels(target.value).inc()
    logger.info(
        "state transition",
        extra={"certify_request_id": request.request_id, "from_state": current, "to_state": target, "reason": reason},
    )


def record_initial(session: AsyncSession, request: CertificationRequest, reason: str) -> None:
    """Record the first state of a new request."""
    session.add(
        StateTransition(
            request_key=request.request_key,
            from_state=None,
            to_state=request.status,
            reason=reason,
            at=request.created_at,
        )
    )


async def verified_at(session: AsyncSession, request_key: str) -> datetime | None:
    """When the request's payment was verified (its first step into ``payment_verified``), if it was."""
    statement = (
        select(StateTransition.at)  # type: ignore[call-overload]
        .where(
            StateTransition.request_key == request_key,  # type: ignore[arg-type]
            StateTransition.to_state == State.PAYMENT_VERIFIED.value,  # type: ignore[arg-type]
        )
        .order_by(StateTransition.id)  # type: ignore[arg-type]
        .limit(1)
    )
    return aware((await session.execute(statement)).scalar_one_or_none())


async def history(session: AsyncSession, request_key: str) -> list[StateTransition]:
    """Every recorded step of a request, oldest first."""
    statement = (
        select(StateTransition)
        .where(StateTransition.request_key == request_key)  # type: ignore[arg-type]
        .order_by(StateTransition.id)  # type: ignore[arg-type]
    )
    return list((await session.execute(statement)).scalars())


def _of_authorization(network: str, payer: str, nonce: str) -> sa.ColumnElement[bool]:
    """The payments row of one authorization (payer and nonce are stored in lower case)."""
    return sa.and_(
        Payment.network == network,  # type: ignore[arg-type]
        Payment.payer == payer.lower(),  # type: ignore[arg-type]
        Payment.nonce == nonce.lower(),  # type: ignore[arg-type]
    )


async def payment_by_authorization(session: AsyncSession, network: str, payer: str, nonce: str) -> Payment | None:
    """The payment recorded for one authorization (network, payer, nonce), if any."""
    statement = select(Payment).where(_of_authorization(network, payer, nonce))
    return (await session.execute(statement)).scalar_one_or_none()


async def request_and_payments(
    session: AsyncSession, request_key: str, network: str, payer: str, nonce: str
) -> tuple[CertificationRequest | None, Payment | None, Payment | None]:
    """In one query: the request, the payment recorded for an authorization (network, payer, nonce), and the
    request's payment (the same row when that authorization paid for this request). No request: (None, None, None).

    The request joined with the payments rows matching either (at most two: both keys are unique)."""
    of_request = Payment.request_key == CertificationRequest.request_key
    either = sa.or_(_of_authorization(network, payer, nonce), of_request)  # type: ignore[arg-type]
    statement = (
        select(CertificationRequest, Payment)
        .outerjoin(Payment, either)  # type: ignore[arg-type]
        .where(CertificationRequest.request_key == request_key)  # type: ignore[arg-type]
    )
    rows = list((await session.execute(statement)).tuples())
    if not rows:
        return None, None, None
    payments = [payment for _, payment in rows if payment is not None]
    key = (network, payer.lower(), nonce.lower())
    found = next((row for row in payments if (row.network, row.payer, row.nonce) == key), None)
    return rows[0][0], found, next((row for row in payments if row.request_key == request_key), None)


async def payment_for_request(session: AsyncSession, request_key: str) -> Payment | None:
    """The payment of a request, if one was recorded."""
    statement = select(Payment).where(Payment.request_key == request_key)  # type: ignore[arg-type]
    return (await session.execute(statement)).scalar_one_or_none()


async def certification_for_request(session: AsyncSession, request_key: str) -> Certification | None:
    """The stored proof of a request, if it completed."""
    statement = select(Certification).where(Certification.request_key == request_key)  # type: ignore[arg-type]
    return (await session.execute(statement)).scalar_one_or_none()


async def count_rows(session: AsyncSession, model: type[object]) -> int:
    """How many rows a table holds (tests compare counts before and after bad input)."""
    return int((await session.execute(select(func.count()).select_from(model))).scalar_one())  # type: ignore[arg-type]


async def request_ids(session: AsyncSession, request_keys: set[str]) -> dict[str, str]:
    """request_key → the client's request_id, for those of ``request_keys`` that exist."""
    if not request_keys:
        return {}
    table = CertificationRequest.__table__  # type: ignore[attr-defined]
    statement = select(table.c.request_key, table.c.request_id).where(table.c.request_key.in_(request_keys))
    return {str(key): str(request_id) for key, request_id in (await session.execute(statement)).tuples()}


async def delete_payment(session: AsyncSession, payment: Payment) -> None:
    """Remove a payment row (a reservation whose settlement was definitely refused)."""
    await session.delete(payment)
