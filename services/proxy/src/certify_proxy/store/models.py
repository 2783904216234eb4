"""The proxy's tables. Money is stored as integer atomic units or decimal strings, never floats.

Times are timezone-aware UTC (SQLite hands them back naive: read them through :func:`aware`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


def utcnow() -> datetime:
    """The current time, UTC, timezone-aware."""
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """Attach UTC to a naive datetime read back from SQLite."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class JobKind(StrEnum):
    """What a queued job does (``jobs.kind``)."""

    CERTIFY = "certify"
    SETTLE_RECONCILE = "settle_reconcile"
    WEBHOOK = "webhook"


class JobStatus(StrEnum):
    """Where a job stands (``jobs.status``): queued (due at ``run_at``), running (under a lease), done, dead."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class PaymentStatus(StrEnum):
    """A payment row (``payments.status``): reserved before settling, settled, or definitely refused."""

    PENDING = "pending"
    SETTLED = "settled"
    FAILED = "failed"


def _ts(nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), nullable=nullable, index=index))


class CertificationRequest(SQLModel, table=True):
    """One client request, its quote, offer and lifecycle state.

    ``request_id`` is chosen by the client and unique per ``owner`` (``key:<api key id>``, or
    ``open:<terms fingerprint>`` for keyless requests); ``request_key`` identifies the request inside
    the proxy (references, jobs, locks, idempotency keys) and never leaves it.
    """

    __tablename__ = "certification_requests"
    __table_args__ = (sa.Index("uq_certification_requests_owner_request_id", "owner", "request_id", unique=True),)

    request_key: str = Field(sa_column=sa.Column(sa.String(64), primary_key=True))
    owner: str = Field(sa_column=sa.Column(sa.String(80), nullable=False))
    request_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    api_key_id: int | None = Field(default=None, foreign_key="api_keys.id", index=True)
    status: str = Field(sa_column=sa.Column(sa.String(32), nullable=False, index=True))
    fingerprint: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    data_hash: str = Field(sa_column=sa.Column(sa.String(66), nullable=False))
    data_size_bytes: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    network: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    client_type: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    callback_url: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), nullable=True))
    file_name: str | None = Field(default=None, sa_column=sa.Column(sa.String(255), nullable=True))
    public_token: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    quote_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    quote_json: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    amount_atomic: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    quote_valid_until: datetime | None = _ts(nullable=True)
    offer_json: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    error_code: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    error_message: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    error_retryable: bool | None = Field(default=None, sa_column=sa.Column(sa.Boolean, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    completed_at: datetime | None = _ts(nullable=True)


class Payment(SQLModel, table=True):
    """A settled (or settling) x402 authorization; one per authorization and at most one per request."""

    __tablename__ = "payments"
    __table_args__ = (sa.UniqueConstraint("network", "payer", "nonce", name="uq_payments_authorization"),)

    id: int | None = Field(default=None, primary_key=True)
    request_key: str = Field(
        sa_column=sa.Column(
            sa.String(64), sa.ForeignKey("certification_requests.request_key"), nullable=False, unique=True
        )
    )
    network: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    payer: str = Field(sa_column=sa.Column(sa.String(42), nullable=False))
    nonce: str = Field(sa_column=sa.Column(sa.String(66), nullable=False))
    amount_atomic: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False, index=True))
    tx_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(66), nullable=True))
    block_number: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger, nullable=True))
    settle_json: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    settled_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class Certification(SQLModel, table=True):
    """The proof of a completed certification."""

    __tablename__ = "certifications"

    request_key: str = Field(
        sa_column=sa.Column(sa.String(64), sa.ForeignKey("certification_requests.request_key"), primary_key=True)
    )
    tx_id: str = Field(sa_column=sa.Column(sa.String(66), nullable=False, index=True))
    block_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    timestamp: str | None = Field(default=None, sa_column=sa.Column(sa.String(64), nullable=True))
    data_hash: str = Field(sa_column=sa.Column(sa.String(66), nullable=False))
    cirx_fee_paid: str | None = Field(default=None, sa_column=sa.Column(sa.String(40), nullable=True))
    verification_url: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), nullable=True))
    network: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    proof_json: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = _ts()


class StateTransition(SQLModel, table=True):
    """One validated step of a request's lifecycle, with its time and reason."""

    __tablename__ = "state_transitions"

    id: int | None = Field(default=None, primary_key=True)
    request_key: str = Field(
        sa_column=sa.Column(
            sa.String(64), sa.ForeignKey("certification_requests.request_key"), nullable=False, index=True
        )
    )
    from_state: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    to_state: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    reason: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    at: datetime = _ts()


class Job(SQLModel, table=True):
    """The durable work queue: workers lease due rows (``run_at`` ≤ now, lease expired) and run them."""

    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_due", "status", "run_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    dedupe_key: str = Field(sa_column=sa.Column(sa.String(128), nullable=False, unique=True))
    payload: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    attempts: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    max_attempts: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    run_at: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    locked_by: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    #: W3C trace context (JSON) of the request that enqueued the job: its runs link to that trace.
    trace_context: str | None = Field(default=None, sa_column=sa.Column(sa.String(1024), nullable=True))


class DeadLetter(SQLModel, table=True):
    """A job that used up its attempts, kept for operators (re-queued through the admin API)."""

    __tablename__ = "dead_letters"

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(sa_column=sa.Column(sa.Integer, sa.ForeignKey("jobs.id"), nullable=False, index=True))
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    payload: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    error: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    attempts: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    created_at: datetime = _ts()
    requeued_at: datetime | None = _ts(nullable=True)


class WebhookDelivery(SQLModel, table=True):
    """One attempt to POST a final status to a client's ``callback_url``."""

    __tablename__ = "webhook_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    request_key: str = Field(
        sa_column=sa.Column(
            sa.String(64), sa.ForeignKey("certification_requests.request_key"), nullable=False, index=True
        )
    )
    url: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    attempt: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    status_code: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, nullable=True))
    error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    delivered: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: datetime = _ts()


class ApiKey(SQLModel, table=True):
    """A client key, stored as its SHA-256 (the key itself is shown once, at creation)."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    prefix: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    key_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    is_admin: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    webhook_secret: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    created_at: datetime = _ts()
    revoked_at: datetime | None = _ts(nullable=True)


class WalletBalance(SQLModel, table=True):
    """A reading of the service's CIRX wallet balance (decimal string)."""

    __tablename__ = "wallet_balances"

    id: int | None = Field(default=None, primary_key=True)
    asset: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    balance: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    checked_at: datetime = _ts(index=True)
