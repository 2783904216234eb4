"""Settings of the operator (environment variables, see README.md for the table)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from certify_common.settings import PLACEHOLDER_SECRETS, ServiceSettings
from certify_common.settings_types import HttpUrl


class OperatorSettings(ServiceSettings):
    """Where the proxy's admin API is, which namespace to watch, and how often to act."""

    service_name = "operator"
    port: int = Field(8406, ge=1, le=65535, description="TCP port of `/healthz` and `/metrics`.")
    proxy_admin_url: HttpUrl = Field(
        "http://127.0.0.1:8080",
        description="Base URL of the proxy's admin API; a CertifyWallet's `spec.proxy.adminUrl` overrides it.",
    )
    proxy_admin_key: SecretStr | None = Field(
        None,
        description=("Admin API key (from a Secret); a CertifyWallet's `spec.proxy.adminKeySecret` overrides it."),
    )
    watch_namespace: str = Field(
        "", description="Namespace whose resources the operator handles; empty: every namespace (cluster-wide)."
    )
    peering_name: str = Field(
        "certify-operator", min_length=1, description="kopf peering object: replicas sharing it never act twice."
    )
    peering_priority: int | None = Field(
        None,
        ge=0,
        description=(
            "kopf peering priority; unset: random per process, so of several replicas the highest acts and the"
            " others wait (replicas of equal priority would all pause)."
        ),
    )
    tick_s: float = Field(
        10.0, gt=0, le=3600, description="How often timers wake; each resource's own interval decides when it acts."
    )
    dead_letter_sync_interval_s: float = Field(
        30.0, gt=0, le=86400, description="How often the proxy's dead-letter queue is mirrored as DeadLetter resources."
    )
    dead_letter_ttl_s: float = Field(
        86400.0, ge=0, le=30 * 86400, description="A DeadLetter whose request completed is deleted after this long."
    )
    proxy_timeout_s: float = Field(20.0, gt=0, le=120, description="Timeout of one admin API call.")

    def check_production(self) -> None:
        super().check_production()
        key = self.proxy_admin_key.get_secret_value() if self.proxy_admin_key else ""
        if key.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("PROXY_ADMIN_KEY must be set to a real admin key in production")
