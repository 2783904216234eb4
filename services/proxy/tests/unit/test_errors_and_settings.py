"""The code → status table, Prefer: wait parsing, and the production guard of the settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from certify_common.codes import FailureCode
from certify_common.errors import failure
from certify_proxy.api.errors import STATUS_BY_CODE, error_response, http_status
from certify_proxy.api.routes.common import prefer_wait
from certify_proxy.settings import ProxySettings


@pytest.mark.parametrize(
    ("code", "retryable", "status"),
    [
        ("invalid_base64", False, 422),
        ("data_too_large", False, 413),
        ("request_conflict", False, 409),
        ("nonce_already_used", False, 402),
        ("invalid_signature", False, 402),
        ("rate_limited", True, 429),
        ("upstream_unavailable", True, 503),
        ("something_new", True, 503),
        ("something_else", False, 400),
    ],
)
def test_codes_map_to_statuses_through_one_table(code: str, retryable: bool, status: int) -> None:
    assert http_status(failure(code, "m", retryable=retryable)) == status


def test_every_status_in_the_table_is_an_error_status() -> None:
    assert all(400 <= status < 600 for status in STATUS_BY_CODE.values())


def test_the_table_is_the_failure_code_registry() -> None:
    assert {code: STATUS_BY_CODE[code] for code in ("version_mismatch", "facilitator_bad_answer")} == {
        "version_mismatch": 402,
        "facilitator_bad_answer": 502,
    }
    assert set(STATUS_BY_CODE) == {code.value for code in FailureCode}


def test_retry_after_becomes_a_whole_second_header() -> None:
    response = error_response(failure("rate_limited", "slow down", retryable=True, retry_after=12.2))
    assert response.headers["Retry-After"] == "13"
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 0), ("wait=5", 5), ("respond-async, wait=30", 30), ("wait=600", 60), ("handling=lenient", 0)],
)
def test_prefer_wait_is_read_and_capped(header: str | None, seconds: int) -> None:
    assert prefer_wait(header, 60) == seconds


PRODUCTION = {
    "certify_env": "production",
    "database_url": "postgresql+asyncpg://certify@db/certify",
    "redis_url": "redis://redis:6379/0",
    "public_base_url": "https://certify.example.com",
    "mcp_x402_url": "http://x402:8402/mcp",
    "mcp_circular_url": "http://circular:8403/mcp",
    "mcp_quote_url": "http://quote:8404/mcp",
    "mcp_qr_url": "http://qr:8405/mcp",
}


def test_a_sound_production_configuration_is_accepted() -> None:
    assert ProxySettings(**PRODUCTION).public_base_url == "https://certify.example.com"


@pytest.mark.parametrize(
    "change",
    [
        {"database_url": "sqlite+aiosqlite:///./certify.db"},
        {"public_base_url": "http://certify.example.com"},
        {"dev_api_key": "ck_anything_at_all"},
        {"redis_url": None},
        {"allow_http_callbacks": True},
        {"webhook_allow_private": True},
        {"mcp_quote_url": "http://sandbox:8499/mcp"},
        {"auth_mode": "open"},
        {"auth_mode": "open", "webhook_secret": "changeme"},
    ],
)
def test_production_refuses_development_settings(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ProxySettings(**{**PRODUCTION, **change})


def test_the_default_network_must_be_enabled() -> None:
    with pytest.raises(ValidationError):
        ProxySettings(default_network="base", x402_networks="base-sepolia")


def test_rpc_urls_are_read_as_network_url_pairs() -> None:
    settings = ProxySettings(evm_rpc_urls="base=https://rpc.example/base, arbitrum=https://rpc.example/arb")
    assert settings.evm_rpc_urls == {"base": "https://rpc.example/base", "arbitrum": "https://rpc.example/arb"}
    with pytest.raises(ValidationError):
        ProxySettings(evm_rpc_urls="base")


def test_open_mode_in_production_is_accepted_with_a_real_webhook_secret() -> None:
    assert ProxySettings(**PRODUCTION, auth_mode="open", webhook_secret="x" * 40).auth_mode == "open"


@pytest.mark.parametrize(("env", "allowed"), [("development", True), ("test", False), ("production", False)])
def test_callbacks_reach_private_addresses_by_default_in_development_only(env: str, allowed: bool) -> None:
    settings = ProxySettings(**{**PRODUCTION, "certify_env": env})
    assert settings.webhooks_private_allowed is allowed
    assert ProxySettings(certify_env="test", webhook_allow_private=True).webhooks_private_allowed is True


def test_trusted_proxies_are_read_as_addresses_or_networks() -> None:
    settings = ProxySettings(forwarded_allow_ips="10.0.0.0/8, 192.0.2.7,fd00::/8")
    assert settings.forwarded_allow_ips == ["10.0.0.0/8", "192.0.2.7", "fd00::/8"]
    assert ProxySettings().forwarded_allow_ips == []
    with pytest.raises(ValidationError):
        ProxySettings(forwarded_allow_ips="ingress.internal")


def test_retry_schedules_are_read_as_comma_separated_seconds() -> None:
    settings = ProxySettings(job_retry_delays_s="0.1, 0.2,1", webhook_retry_delays_s="2")
    assert (settings.job_retry_delays_s, settings.webhook_retry_delays_s) == ([0.1, 0.2, 1.0], [2.0])
    with pytest.raises(ValidationError):
        ProxySettings(job_retry_delays_s="")
