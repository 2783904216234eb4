"""Reading the authorization out of v1 and v2 payment headers, before any network call."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from certify_common.errors import Failure
from certify_proxy.authorization import Authorization, decode_payment_header

PAYER = "0x" + "Ab" * 20
NONCE = "0x" + "Cd" * 32
AUTH = {"from": PAYER, "to": "0x" + "11" * 20, "value": "30000", "validAfter": "0", "validBefore": "9", "nonce": NONCE}


def _encode(payment: Any) -> str:
    return base64.b64encode(json.dumps(payment).encode()).decode()


def test_a_v1_header_names_network_payer_and_nonce() -> None:
    header = _encode(
        {"x402Version": 1, "scheme": "exact", "network": "base-sepolia", "payload": {"authorization": AUTH}}
    )
    authorization, _ = decode_payment_header(header)  # type: ignore[misc]
    assert authorization == Authorization(1, "base-sepolia", PAYER.lower(), NONCE.lower(), 30000)


def test_a_v2_header_is_read_from_its_caip2_network() -> None:
    header = _encode({"x402Version": 2, "accepted": {"network": "eip155:421614"}, "payload": {"authorization": AUTH}})
    authorization, _ = decode_payment_header(header)  # type: ignore[misc]
    assert authorization.network == "arbitrum-sepolia"
    assert authorization.x402_version == 2


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("%%%", "malformed_payment"),
        (_encode([1, 2]), "malformed_payment"),
        (_encode({"x402Version": 3}), "malformed_payment"),
        (_encode({"x402Version": 1, "network": "dogechain", "payload": {"authorization": AUTH}}), "network_mismatch"),
        (_encode({"x402Version": 1, "network": "base", "payload": {}}), "malformed_payment"),
        (
            _encode({"x402Version": 1, "network": "base", "payload": {"authorization": {**AUTH, "nonce": "0x12"}}}),
            "malformed_payment",
        ),
        (
            _encode({"x402Version": 1, "network": "base", "payload": {"authorization": {**AUTH, "from": "alice"}}}),
            "malformed_payment",
        ),
        (
            _encode({"x402Version": 1, "network": "base", "payload": {"authorization": {**AUTH, "value": 5}}}),
            "malformed_payment",
        ),
        ("A" * 20000, "malformed_payment"),
    ],
)
def test_malformed_headers_are_coded_failures(header: str, code: str) -> None:
    result = decode_payment_header(header)
    assert isinstance(result, Failure)
    assert result.code == code
