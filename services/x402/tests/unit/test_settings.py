"""X402Settings: documented fields, per-network facilitators, production refusals, secrets kept out of logs."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from certify_common.evm import NETWORKS
from certify_common.logs import RedactionFilter
from certify_x402.settings import DEFAULT_FACILITATOR_URL, X402Settings

REAL_PAYEE = "0x" + "9a" * 20
PRODUCTION: dict[str, Any] = {
    "certify_env": "production",
    "x402_pay_to": REAL_PAYEE,
    "x402_networks": "base-sepolia,base",
    "x402_facilitator_urls": "base=https://api.cdp.coinbase.com/platform/v2/x402",
    "x402_facilitator_auth_header": "Bearer prod-token-123456",
    "redis_url": "redis://redis.certify:6379/0",
    "x402_rpc_urls": "base=https://base.rpc.example,base-sepolia=https://sepolia.base.rpc.example",
}


def test_every_setting_is_described() -> None:
    assert all(field.description for field in X402Settings.model_fields.values())


def test_networks_get_their_override_or_the_default_facilitator_and_mainnets_the_auth_header() -> None:
    settings = X402Settings(**PRODUCTION)
    assert settings.facilitator_url(NETWORKS["base"]) == "https://api.cdp.coinbase.com/platform/v2/x402"
    assert settings.facilitator_url(NETWORKS["base-sepolia"]) == DEFAULT_FACILITATOR_URL
    assert settings.facilitator_headers(NETWORKS["base"]) == {"Authorization": "Bearer prod-token-123456"}
    assert settings.facilitator_headers(NETWORKS["base-sepolia"]) == {}


@pytest.mark.parametrize(
    "override",
    [
        {"x402_pay_to": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"},
        {"x402_facilitator_url": "http://127.0.0.1:8499/facilitator"},
        {"x402_facilitator_urls": "base=https://sandbox.internal/facilitator"},
        {"x402_facilitator_urls": ""},
        {"x402_rpc_urls": "base=http://localhost:8499/rpc/base,base-sepolia=https://sepolia.base.rpc.example"},
        {"redis_url": ""},
        {"x402_rpc_urls": ""},
        {"x402_rpc_urls": "base=https://base.rpc.example"},
    ],
)
def test_production_refuses_sandboxes_placeholders_mainnets_on_the_testnet_facilitator_no_redis_and_no_rpc(
    override: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError):
        X402Settings(**{**PRODUCTION, **override})


@pytest.mark.parametrize(
    "override",
    [
        {"x402_networks": "ethereum"},
        {"x402_pay_to": "nope"},
        {"x402_pay_to": REAL_PAYEE + "\n"},
        {"x402_rpc_urls": "solana=https://x"},
    ],
)
def test_nonsense_configuration_is_refused(override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        X402Settings(**override)


def test_the_facilitator_auth_header_is_masked_in_log_lines() -> None:
    X402Settings(**PRODUCTION)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "calling with Bearer prod-token-123456", None, None)
    RedactionFilter().filter(record)
    assert "prod-token-123456" not in record.getMessage()
