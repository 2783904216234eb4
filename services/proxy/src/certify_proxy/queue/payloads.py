"""What each kind of job carries in ``jobs.payload``: one model per kind, read back through it.

The column holds the model as compact JSON with sorted keys and without the fields still at their default,
so rows written before these models existed (plain objects of the same keys) read the same. Handlers
validate their payload when they read it (``Model.model_validate_json(job.payload)``): a row that does
not fit fails that attempt like any error, is retried and ends in the dead-letter queue, never wedging a worker.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from certify_common.contracts.x402 import PaymentRequirements
from certify_proxy.store.models import JobKind


class JobPayload(BaseModel):
    """Every job works for one request, named by its internal key."""

    model_config = ConfigDict(frozen=True)

    request_key: str = Field(description="The request's internal key.")

    def to_json(self) -> str:
        """The column's text: compact, sorted, defaults left out."""
        dumped = self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        return json.dumps(dumped, separators=(",", ":"), sort_keys=True)


class CertifyPayload(JobPayload):
    """A ``certify`` job: the request, and how far its certification got (saved as it goes)."""

    submission: int = Field(0, description="How many times a new transaction was decided (0: the first).")
    tx_id: str | None = Field(None, description="The transaction submitted by this submission, once accepted.")
    submit_started_at: datetime | None = Field(None, description="When the first submission attempt started.")
    submitted_at: datetime | None = Field(None, description="When the NAG accepted the transaction.")
    executed_at: datetime | None = Field(None, description="When the transaction was seen Executed.")


class SettlePayload(JobPayload):
    """A ``settle_reconcile`` job: the authorization to settle again, until its outcome is recorded.

    Once it is (or nothing is pending any more) only ``request_key`` is kept: the payment header is forgotten.
    """

    payment_header: str | None = Field(None, description="The payment header as the payer sent it.")
    payment_requirements: PaymentRequirements | None = Field(None, description="The x402 requirements it pays.")


class WebhookPayload(JobPayload):
    """A ``webhook`` job: deliver the request's status document as it is when the job runs."""

    status: str = Field(description="The status whose change is announced (the event name).")


#: A payload of any kind (as the admin API shows it).
AnyPayload = CertifyPayload | SettlePayload | WebhookPayload

#: The model of each kind's payload.
PAYLOADS: dict[str, type[AnyPayload]] = {
    JobKind.CERTIFY: CertifyPayload,
    JobKind.SETTLE_RECONCILE: SettlePayload,
    JobKind.WEBHOOK: WebhookPayload,
}


def read_payload(kind: str, raw: str) -> AnyPayload | None:
    """The payload of a job of ``kind`` as its model, or None when the kind is unknown or the row does not fit."""
    model = PAYLOADS.get(kind)
    if model is None:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        return None


def request_key_of(raw: str) -> str | None:
    """The request a stored payload names, whatever its kind (None when it names none)."""
    try:
        return JobPayload.model_validate_json(raw).request_key
    except ValidationError:
        return None
