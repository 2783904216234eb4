"""Paying a 402 offer: the signed authorization recovers to the payer under USDC's EIP-712 domain."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from x402.mechanisms.evm.eip712 import hash_eip3009_authorization
from x402.mechanisms.evm.types import ExactEIP3009Authorization

from certify_client.payment import PaymentError, decode_offer, sign_payment, typed_data
from certify_testkit.paths import vectors

PAYER = Account.from_key("0x" + "4c" * 32)
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"


def _offer(network: str = "base-sepolia") -> dict[str, Any]:
    domain = vectors("x402_vectors")["usdc_domains"][network]
    return {
        "x402Version": 2,
        "resource": {"url": "http://127.0.0.1:8080/v1/certify"},
        "accepts": [
            {
                "scheme": "exact",
                "network": domain["caip2"],
                "amount": "30000",
                "asset": domain["usdc_address"],
                "payTo": PAY_TO,
                "maxTimeoutSeconds": 300,
                "extra": {"name": domain["eip712_name"], "version": domain["eip712_version"]},
            }
        ],
    }


@pytest.mark.parametrize("network", ["base-sepolia", "base", "arbitrum-sepolia", "arbitrum"])
def test_the_payment_recovers_to_the_payer_under_the_official_domain(network: str) -> None:
    offer = _offer(network)
    domain = vectors("x402_vectors")["usdc_domains"][network]
    header = base64.b64encode(json.dumps(offer).encode()).decode()
    signed = sign_payment(decode_offer(header), PAYER.key.hex(), now=1_800_000_000)
    payment = json.loads(base64.b64decode(signed.header_value))
    auth = payment["payload"]["authorization"]
    assert payment["x402Version"] == 2
    assert payment["accepted"] == offer["accepts"][0]
    assert auth["from"] == PAYER.address
    assert (auth["to"], auth["value"]) == (PAY_TO, "30000")
    assert int(auth["validAfter"]) <= 1_800_000_000 < int(auth["validBefore"]) <= 1_800_000_300
    message = encode_typed_data(full_message=typed_data(offer["accepts"][0], auth))
    assert "0x" + message.header.hex() == domain["expected_DOMAIN_SEPARATOR"]
    assert Account.recover_message(message, signature=payment["payload"]["signature"]) == PAYER.address
    # The official x402 SDK hashes the same authorization to the digest that was signed (RFC 6979: same bytes).
    digest = hash_eip3009_authorization(
        ExactEIP3009Authorization(
            auth["from"], auth["to"], auth["value"], auth["validAfter"], auth["validBefore"], auth["nonce"]
        ),
        domain["chain_id"],
        domain["usdc_address"],
        domain["eip712_name"],
        domain["eip712_version"],
    )
    resigned = Account.unsafe_sign_hash(digest, PAYER.key)
    assert "0x" + bytes(resigned.signature).hex() == payment["payload"]["signature"]


def test_every_payment_gets_a_fresh_nonce() -> None:
    first = sign_payment(_offer(), PAYER.key.hex())
    second = sign_payment(_offer(), PAYER.key.hex())
    nonce = [json.loads(base64.b64decode(s.header_value))["payload"]["authorization"]["nonce"] for s in (first, second)]
    assert nonce[0] != nonce[1]


def test_an_offer_without_an_exact_evm_requirement_cannot_be_paid() -> None:
    offer = _offer()
    offer["accepts"][0]["scheme"] = "upto"
    with pytest.raises(PaymentError):
        sign_payment(offer, PAYER.key.hex())
    with pytest.raises(PaymentError):
        decode_offer("not base64 json")
