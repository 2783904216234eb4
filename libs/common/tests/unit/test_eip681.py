"""The EIP-681 encoder reproduces the official vectors for every network."""

from typing import Any

import pytest

from certify_common.eip681 import eip681_from_requirements
from certify_common.errors import Failure
from certify_common.evm import NETWORKS
from certify_testkit.paths import vectors

VECTORS = vectors("x402_vectors")["eip681_and_metamask"]
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_v2_requirements_give_the_vector_uri(name: str) -> None:
    network = NETWORKS[name]
    requirements = {"network": network.caip2, "asset": network.usdc_address, "payTo": PAY_TO, "amount": "30000"}
    assert eip681_from_requirements(requirements) == VECTORS[name]["eip681_uri"]


def test_v1_requirements_use_max_amount_required() -> None:
    network = NETWORKS["base-sepolia"]
    requirements = {
        "network": "base-sepolia",
        "asset": network.usdc_address,
        "payTo": PAY_TO,
        "maxAmountRequired": "30000",
    }
    assert eip681_from_requirements(requirements) == VECTORS["base-sepolia"]["eip681_uri"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"network": "eip155:1"}, "unknown_network"),
        ({"payTo": "0x1234"}, "invalid_address"),
        ({"asset": "not-an-address"}, "invalid_address"),
        ({"amount": "0"}, "invalid_amount"),
        ({"amount": "1.5"}, "invalid_amount"),
        ({"amount": "²"}, "invalid_amount"),
        ({"amount": "١٢٣"}, "invalid_amount"),
        ({"amount": str(2**256)}, "invalid_amount"),
        ({"amount": True}, "invalid_amount"),
        ({"payTo": PAY_TO + "\n"}, "invalid_address"),
    ],
)
def test_bad_requirements_are_failures(change: dict[str, Any], code: str) -> None:
    network = NETWORKS["base"]
    requirements = {"network": "base", "asset": network.usdc_address, "payTo": PAY_TO, "amount": "1", **change}
    result = eip681_from_requirements(requirements)
    assert isinstance(result, Failure)
    assert result.code == code
