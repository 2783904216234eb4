"""Every payment of vectors/x402_vectors.json (signed by the official SDK) verifies as the SDK says."""

from __future__ import annotations

from typing import Any

import pytest

from certify_common.evm import NETWORKS
from certify_testkit.paths import vectors
from certify_x402.eip3009 import Domain, digest, recover_signer
from certify_x402.requirements import build_offer
from certify_x402.verification import check_payment, our_reason
from certify_x402.wire import Authorization, decode_header, encode_header, parse_requirements

VECTORS: dict[str, dict[str, Any]] = vectors("x402_vectors")["vectors"]


def _header(vector: dict[str, Any]) -> str:
    key = next(
        name for name in vector if name.startswith(("payment_signature_header_base64", "x_payment_header_base64"))
    )
    return str(vector[key])


def _requirements(vector: dict[str, Any]) -> dict[str, Any]:
    return dict(vector["facilitator_verify_request_body"]["paymentRequirements"])


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_the_sdk_signed_payment_is_valid_at_the_sdk_clock(name: str) -> None:
    vector = VECTORS[name]
    payment = decode_header(_header(vector))
    requirement = parse_requirements(_requirements(vector))
    verdict = check_payment(payment, requirement, vector["offline_sdk_verify"]["clock_used"])  # type: ignore[arg-type]
    assert (verdict.is_valid, verdict.reason, verdict.payer) == (True, None, vector["payer_address"])


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_the_eip712_digest_and_recovered_signer_match_the_vector(name: str) -> None:
    vector = VECTORS[name]
    domain_data = vector["eip712"]["typed_data"]["domain"]
    domain = Domain(
        domain_data["name"], domain_data["version"], domain_data["chainId"], domain_data["verifyingContract"]
    )
    auth = vector["authorization"]
    authorization = Authorization(
        auth["from"], auth["to"], int(auth["value"]), int(auth["validAfter"]), int(auth["validBefore"]), auth["nonce"]
    )
    assert digest(authorization, domain) == vector["eip712"]["digest"]
    assert recover_signer(authorization, domain, vector["signature"]) == vector["recovered_signer"]


def _mutated(vector: dict[str, Any], case: str) -> tuple[dict[str, Any], int]:
    requirements = _requirements(vector)
    clock = int(vector["offline_sdk_verify"]["clock_used"])
    amount_key = "amount" if "amount" in requirements else "maxAmountRequired"
    if case == "amount_30001_required":
        requirements[amount_key] = "30001"
    elif case == "different_payTo_required":
        requirements["payTo"] = "0x" + "12" * 20
    elif case.startswith("wrong_domain_name_"):
        requirements["extra"] = {"name": case.removeprefix("wrong_domain_name_").replace("_", " "), "version": "2"}
    elif case == "clock_validBefore_minus_5s":
        clock = int(vector["authorization"]["validBefore"]) - 5
    else:
        raise AssertionError(f"unknown vector case {case}")
    return requirements, clock


INVALID_CASES = [
    (name, case)
    for name, vector in sorted(VECTORS.items())
    for case, answer in vector["offline_sdk_verify"].items()
    if isinstance(answer, dict) and answer.get("isValid") is False
]


@pytest.mark.parametrize(("name", "case"), INVALID_CASES)
def test_each_invalid_vector_case_fails_with_the_sdk_reason(name: str, case: str) -> None:
    vector = VECTORS[name]
    expected = vector["offline_sdk_verify"][case]
    requirements, clock = _mutated(vector, case)
    verdict = check_payment(decode_header(_header(vector)), parse_requirements(requirements), clock)  # type: ignore[arg-type]
    assert (verdict.is_valid, verdict.reason, verdict.payer) == (
        False,
        our_reason(expected["invalidReason"]),
        expected["payer"],
    )


def test_the_spec_known_answer_recovers_its_payer_and_a_wrong_domain_recovers_someone_else() -> None:
    known = vectors("x402_vectors")["spec_known_answer"]
    auth, dom = known["authorization"], known["domain"]
    authorization = Authorization(
        auth["from"], auth["to"], int(auth["value"]), int(auth["validAfter"]), int(auth["validBefore"]), auth["nonce"]
    )
    domain = Domain(dom["name"], dom["version"], dom["chainId"], dom["verifyingContract"])
    assert digest(authorization, domain) == known["digest"]
    assert recover_signer(authorization, domain, known["signature"]) == known["recovered_signer"]
    wrong = Domain("USD Coin", dom["version"], dom["chainId"], dom["verifyingContract"])
    assert (
        recover_signer(authorization, wrong, known["signature"])
        == known["same_signature_with_domain_name_USD_Coin_recovers_to"]
    )


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_our_offer_for_the_vector_inputs_equals_the_sdk_objects_byte_for_byte(name: str) -> None:
    vector = VECTORS[name]
    inputs = vector["inputs"]
    network = next(n for n in NETWORKS.values() if n.chain_id == vector["chain_id"])
    offer = build_offer(
        network_name=network.name,
        enabled=[network.name],
        amount_atomic=int(inputs["amount_atomic"]),
        pay_to=inputs["pay_to"],
        resource="mcp://tool/premium_report",
        description="Premium report",
        mime_type="application/json",
        max_timeout_seconds=inputs["max_timeout_seconds"],
    )
    assert not isinstance(offer, type(None))
    if name.startswith("v2"):
        assert offer.payment_required_v2 == vector["payment_required_object"]  # type: ignore[union-attr]
        assert offer.payment_required_header == vector["payment_required_header_base64 (PAYMENT-REQUIRED)"]  # type: ignore[union-attr]
        assert encode_header(vector["payment_required_object"]) == offer.payment_required_header  # type: ignore[union-attr]
    else:
        assert offer.payment_required_v1 == vector["http_402_body_object"]  # type: ignore[union-attr]
