"""Reading the authorization out of v1 and v2 payment headers, before any network call."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from certify_common.errors import Failure
from certify_proxy.certification.payment_headers import Authorization, decode_payment_header

PAYER = "0x" + "Ab" * 20
NONCE = "0x" + "Cd" * 32
AUTH = {"from": PAYER, "to": "0x" + "11" * 20, "value": "30000", "validAfter": "0", "validBefore": "9", "nonce": NONCE}
PAYLOAD = {"signature": "0x" + "ef" * 65, "authorization": AUTH}
ACCEPTED = {
    "scheme": "exact",
    "network": "eip155:421614",
    "asset": "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
    "amount": "30000",
    "payTo": "0x" + "11" * 20,
    "maxTimeoutSeconds": 300,
    "extra": {"name": "USD Coin", "version": "2"},
}


def _encode(payment: Any) -> str:
    return base64.b64encode(json.dumps(payment).encode()).decode()


def _v1(**changes: Any) -> str:
    return _encode({"x402Version": 1, "scheme": "exact", "network": "base-sepolia", "payload": PAYLOAD, **changes})


def test_a_v1_header_names_network_payer_and_nonce() -> None:
    decoded = decode_payment_header(_v1())
    assert not isinstance(decoded, Failure)
    assert decoded[0] == Authorization(1, "base-sepolia", PAYER.lower(), NONCE.lower(), 30000)


def test_a_v2_header_is_read_from_its_caip2_network() -> None:
    decoded = decode_payment_header(_encode({"x402Version": 2, "accepted": ACCEPTED, "payload": PAYLOAD}))
    assert not isinstance(decoded, Failure)
    assert (decoded[0].network, decoded[0].x402_version) == ("arbitrum-sepolia", 2)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("%%%", "invalid_payload"),
        (_encode([1, 2]), "invalid_payload"),
        (_v1(x402Version=3), "invalid_x402_version"),
        (_v1(network="dogechain"), "network_mismatch"),
        (_v1(payload={}), "invalid_payload"),
        (_v1(payload={**PAYLOAD, "authorization": {**AUTH, "nonce": "0x12"}}), "invalid_payload"),
        (_v1(payload={**PAYLOAD, "authorization": {**AUTH, "from": "alice"}}), "invalid_payload"),
        (_v1(payload={**PAYLOAD, "authorization": {**AUTH, "value": 5}}), "invalid_payload"),
        (_v1(payload={**PAYLOAD, "authorization": {**AUTH, "value": "²"}}), "invalid_payload"),
        ("A" * 20000, "invalid_payload"),
    ],
)
def test_malformed_headers_are_coded_failures(header: str, code: str) -> None:
    result = decode_payment_header(header)
    assert isinstance(result, Failure)
    assert result.code == code
