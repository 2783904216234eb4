"""Settings of the durable workflow: workers, the retry schedule, polling, webhooks and the balance check.

Every interval is configuration, so tests run the whole schedule in seconds. ``ProxySettings``
inherits these fields (environment variable = field name, case-insensitive).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator

from certify_common.settings import ServiceSettings
from certify_common.settings_types import CommaList


class WorkflowSettings(ServiceSettings):
    """The job queue and everything its workers do."""

    job_workers: int = Field(
        16,
        ge=0,
        le=64,
        description="Jobs run at once per proxy process (asyncio tasks, mostly waiting on MCP calls); 0 disables them.",
    )
    job_poll_interval_s: float = Field(
        1.0, gt=0, le=60, description="Pause between queue checks of an idle process (one of its idle workers polls)."
    )
    job_lease_s: float = Field(
        120.0, gt=0, le=3600, description="How long a claimed job is held; a dead worker's job is taken over after it."
    )
    job_retry_delays_s: CommaList[float] = Field(
        default_factory=lambda: [5.0, 10.0, 20.0, 40.0, 60.0],
        description="Pause before each retry of a job, comma-separated; the last value repeats.",
    )
    certify_poll_interval_s: float = Field(
        5.0, gt=0, le=60, description="Interval between get_transaction_status calls while a certification confirms."
    )
    certify_deadline_s: float = Field(
        60.0, gt=0, le=3600, description="How long one attempt polls before it is retried (same transaction)."
    )
    certify_not_found_grace_s: float = Field(
        120.0,
        ge=0,
        le=86400,
        description="How long a submitted transaction may be unknown to the NAG before it is submitted anew.",
    )
    settlement_monitor_interval_s: float = Field(
        15.0,
        ge=0,
        le=3600,
        description="Interval of the unresolved-settlement gauges' refresh (paid, not yet recorded: retried without "
        "limit); 0 disables the task.",
    )
    webhook_max_attempts: int = Field(3, ge=1, le=20, description="Attempts to deliver a webhook.")
    webhook_retry_delays_s: CommaList[float] = Field(
        default_factory=lambda: [5.0, 30.0],
        description="Pause before each webhook retry, comma-separated; the last value repeats.",
    )
    webhook_timeout_s: float = Field(10.0, gt=0, le=60, description="Timeout of one webhook POST.")
    webhook_allow_private: bool | None = Field(
        None,
        description="Let callback URLs reach loopback, private and link-local addresses (local receivers); "
        "unset: true in development only. Refused in production.",
    )
    webhook_secret: str | None = Field(
        None, description="HMAC secret for webhooks of keyless (AUTH_MODE=open) requests; unset: sent unsigned."
    )
    balance_check_interval_s: float = Field(
        300.0,
        ge=0,
        le=86400,
        description=(
            "Interval of the CIRX wallet balance check; 0 disables the task. Set 0 where the Kubernetes operator"
            " watches the wallet (the Helm chart does): certify_cirx_wallet_balance then has one source."
        ),
    )
    balance_warning_cirx: Decimal = Field(
        Decimal(100), ge=0, description="A balance under this many CIRX logs a warning with the time to depletion."
    )
    queue_metrics_interval_s: float = Field(
        15.0, ge=0, le=3600, description="How often the queue backlog and dead-letter gauges are refreshed; 0: never."
    )
    stuck_after_s: float = Field(
        300.0, gt=0, le=86400, description="A queued job overdue by this long is listed as stuck by the admin API."
    )

    @field_validator("job_retry_delays_s", "webhook_retry_delays_s")
    @classmethod
    def _non_empty(cls, value: list[float]) -> list[float]:
        if not value or any(delay < 0 for delay in value):
            raise ValueError("retry delays must be a non-empty list of non-negative seconds")
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _empty_secret(cls, value: Any) -> Any:
        return None if value == "" else value

    @property
    def webhooks_private_allowed(self) -> bool:
        """Whether callbacks may reach internal addresses (``WEBHOOK_ALLOW_PRIVATE``, default: development only)."""
        if self.webhook_allow_private is None:
            return self.certify_env == "development"
        return self.webhook_allow_private


def retry_delay_s(delays: list[float], attempts_made: int) -> float:
    """Pause after the ``attempts_made``-th failed attempt: the schedule's entry, the last one repeating."""
    return delays[min(max(attempts_made, 1), len(delays)) - 1]
