"""Our builder reproduces every transaction the official library made (vectors/circular_vectors.json)."""

from __future__ import annotations

from typing import Any

import pytest

from certify_circular.keys import Wallet, address_of
from certify_circular.transaction import (
    build_certificate,
    certificate_payload_json,
    certified_data_of,
    text_to_hex,
    transaction_problem,
)
from certify_testkit.paths import vectors

VECTORS = vectors("circular_vectors")["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_builder_reproduces_the_official_transaction_byte_for_byte(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    wallet = Wallet.from_hex(inputs["private_key_hex"])
    nonce = inputs["wallet_nonce_returned_by_api"] + 1

    tx = build_certificate(wallet, inputs["blockchain"], inputs["data_string"], nonce, inputs["timestamp"])

    expected = vector["transaction"]
    assert certificate_payload_json(inputs["data_string"]) == expected["payload_json"]
    assert tx.payload == expected["payload_hex"]
    assert tx.id == expected["tx_id"]
    assert tx.signature == expected["signature_der_hex"]
    assert tx.to_body() == vector["add_transaction_request"]["json_body"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_keys_and_addresses_match_the_official_library(vector: dict[str, Any]) -> None:
    wallet = Wallet.from_hex(vector["inputs"]["private_key_hex"])

    assert wallet.public_key_hex == vector["keys"]["public_key_uncompressed_hex"]
    assert wallet.address == vector["keys"]["address"] == address_of(wallet.public_key_hex)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_official_transactions_verify_and_decode(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    wallet = Wallet.from_hex(inputs["private_key_hex"])
    tx = build_certificate(wallet, inputs["blockchain"], inputs["data_string"], 1, inputs["timestamp"])

    assert transaction_problem(tx, vector["keys"]["public_key_uncompressed_hex"]) is None
    assert certified_data_of(tx.payload) == inputs["data_string"]
    assert text_to_hex(inputs["data_string"]) == vector["transaction"]["data_hex"]


def test_high_s_vectors_are_reproduced_without_normalisation() -> None:
    high = [v for v in VECTORS if v["transaction"]["signature_s_is_high"]]
    assert high, "the vectors must include high-s signatures"
    for vector in high:
        inputs = vector["inputs"]
        wallet = Wallet.from_hex(inputs["private_key_hex"])
        tx = build_certificate(
            wallet,
            inputs["blockchain"],
            inputs["data_string"],
            inputs["wallet_nonce_returned_by_api"] + 1,
            inputs["timestamp"],
        )
        assert tx.signature != vector["transaction"]["signature_low_s_der_hex"]
        assert tx.signature == vector["transaction"]["signature_der_hex"]
