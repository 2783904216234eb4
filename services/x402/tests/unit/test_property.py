"""Property: payments made by the official SDK client verify as valid, every single-field mutation is rejected,
and our verdict agrees with the SDK facilitator's own verification run offline."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certify_common.evm import NETWORKS
from certify_x402.requirements import build_offer
from certify_x402.verification import check_payment, our_reason
from certify_x402.wire import decode_header, encode_header, parse_requirements

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
OTHER = "0x" + "ab" * 20
#: Where we name the failure more precisely than the SDK: a foreign asset makes the SDK's signature check fail
#: first (the domain's verifyingContract changes); we refuse the asset before looking at the signature.
EQUIVALENT = {("asset_mismatch", "invalid_signature")}

keys = st.integers(min_value=1, max_value=SECP256K1_N - 1).map(lambda k: "0x" + format(k, "064x"))
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex()).filter(lambda a: a != OTHER)
offers = st.tuples(
    st.sampled_from(sorted(NETWORKS)),
    st.sampled_from([1, 2]),
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=30, max_value=3600),
    addresses,
)


def _auth(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["payload"]["authorization"]  # type: ignore[no-any-return]


def _flip_signature_byte(obj: dict[str, Any]) -> None:
    sig = bytearray(bytes.fromhex(obj["payload"]["signature"][2:]))
    sig[10] ^= 0x01
    obj["payload"]["signature"] = "0x" + sig.hex()


def _other_network(requirements: dict[str, Any]) -> str:
    current = requirements["network"]
    if "maxAmountRequired" in requirements:
        return "base" if current == "base-sepolia" else "base-sepolia"
    return next(n.caip2 for n in NETWORKS.values() if n.caip2 != current)


PAYMENT_MUTATIONS: dict[str, Callable[[dict[str, Any], int], None]] = {
    "authorization.to": lambda obj, now: _auth(obj).update(to=OTHER),
    "authorization.value": lambda obj, now: _auth(obj).update(value=str(int(_auth(obj)["value"]) + 1)),
    "authorization.validBefore": lambda obj, now: _auth(obj).update(validBefore=str(now + 3)),
    "authorization.validAfter": lambda obj, now: _auth(obj).update(validAfter=str(now + 120)),
    "authorization.nonce": lambda obj, now: _auth(obj).update(nonce="0x" + "5a" * 32),
    "authorization.from": lambda obj, now: _auth(obj).update({"from": OTHER}),
    "signature": lambda obj, now: _flip_signature_byte(obj),
}
REQUIREMENT_MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "amount": lambda req: req.update(
        {k: str(int(req[k]) + 1) for k in ("amount", "maxAmountRequired") if k in req},
    ),
    "payTo": lambda req: req.update(payTo=OTHER),
    "network": lambda req: req.update(network=_other_network(req)),
    "asset": lambda req: req.update(asset="0x" + "cd" * 20),
    "extra.name": lambda req: req.update(extra={"name": "Not USDC", "version": "2"}),
}


def _agree(header: str, requirements: dict[str, Any], now: int, sdk_verify: Callable[..., Any]) -> tuple[Any, Any]:
    ours = check_payment(decode_header(header), parse_requirements(requirements), now)  # type: ignore[arg-type]
    theirs = sdk_verify(header, requirements)
    assert ours.is_valid == theirs.is_valid
    if not theirs.is_valid:
        expected = our_reason(theirs.invalid_reason)
        assert ours.reason == expected or (ours.reason, expected) in EQUIVALENT, (ours, theirs)
    return ours, theirs


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=keys, offer_facts=offers)
def test_sdk_payments_verify_and_every_single_mutation_is_rejected_like_the_sdk_does(
    key: str, offer_facts: tuple[str, int, int, int, str], pay: Callable[..., str], offline_sdk_verify: Any
) -> None:
    network_name, version, amount, max_timeout, pay_to = offer_facts
    if version == 1 and NETWORKS[network_name].v1_name is None:
        version = 2
    offer = build_offer(
        network_name=network_name,
        enabled=list(NETWORKS),
        amount_atomic=amount,
        pay_to=pay_to,
        resource="https://certify.example/v1/certify/r-1",
        description="certification",
        mime_type="application/json",
        max_timeout_seconds=max_timeout,
    )
    assert not isinstance(offer, type(None))
    assert hasattr(offer, "requirements_v2")
    payment_required = offer.payment_required_v1 if version == 1 else offer.payment_required_v2  # type: ignore[union-attr]
    requirements = offer.requirements_v1 if version == 1 else offer.requirements_v2  # type: ignore[union-attr]
    header = pay(payment_required, key)
    now = int(time.time())

    ours, _ = _agree(header, requirements, now, offline_sdk_verify)
    assert ours.is_valid
    assert ours.payer is not None

    original = json.loads(base64.b64decode(header))
    for name, mutate in PAYMENT_MUTATIONS.items():
        mutated = copy.deepcopy(original)
        mutate(mutated, now)
        verdict, _ = _agree(encode_header(mutated), requirements, now, offline_sdk_verify)
        assert not verdict.is_valid, name
    for name, mutate_requirements in REQUIREMENT_MUTATIONS.items():
        changed = copy.deepcopy(requirements)
        mutate_requirements(changed)
        verdict, _ = _agree(header, changed, now, offline_sdk_verify)
        assert not verdict.is_valid, name
