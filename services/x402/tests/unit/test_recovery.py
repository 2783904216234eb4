"""Signer recovery through coincurve accepts and refuses exactly what eth-account's recovery does, and a
payment whose signature bytes are mutated gets the official SDK's verdict."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certify_testkit.sdk_payments import signed_payment
from certify_x402.eip3009 import SECP256K1_N, Domain, digest_bytes, recover_address, recover_signer
from certify_x402.verification import check_payment, our_reason
from certify_x402.wire import Authorization, decode_header, encode_header, parse_requirements

SCALARS = st.one_of(
    st.integers(min_value=0, max_value=2**256 - 1),
    st.sampled_from([0, 1, SECP256K1_N - 1, SECP256K1_N, SECP256K1_N + 1, 2**256 - 1, SECP256K1_N // 2 + 1]),
)


def _eth_account_recovery(message_hash: bytes, signature: bytes) -> str | None:
    try:
        return str(Account._recover_hash(message_hash, signature=signature)).lower()
    except Exception:
        return None


@settings(max_examples=300, deadline=None)
@given(message_hash=st.binary(min_size=32, max_size=32), r=SCALARS, s=SCALARS, v=st.integers(0, 255))
def test_recovery_agrees_with_eth_account_on_any_r_s_and_v(message_hash: bytes, r: int, s: int, v: int) -> None:
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))
    assert recover_address(message_hash, signature) == _eth_account_recovery(message_hash, signature)


@settings(max_examples=50, deadline=None)
@given(key=st.integers(min_value=1, max_value=SECP256K1_N - 1), message_hash=st.binary(min_size=32, max_size=32))
def test_a_real_signature_recovers_its_signer_also_with_high_s_and_flipped_v(key: int, message_hash: bytes) -> None:
    account = Account.from_key(key.to_bytes(32, "big"))
    signed = Account._sign_hash(message_hash, account.key)
    low = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big")
    high = signed.r.to_bytes(32, "big") + (SECP256K1_N - signed.s).to_bytes(32, "big")
    assert recover_address(message_hash, low + bytes((signed.v,))) == account.address.lower()
    assert recover_address(message_hash, low + bytes((signed.v - 27,))) == account.address.lower()
    flipped = high + bytes((55 - signed.v,))  # high s with the other parity is the same signature
    assert recover_address(message_hash, flipped) == _eth_account_recovery(message_hash, flipped)
    assert recover_address(message_hash, flipped) == account.address.lower()


def test_a_signature_that_is_not_65_bytes_recovers_nobody() -> None:
    assert recover_address(b"\x01" * 32, b"\x01" * 64) is None
    assert recover_address(b"\x01" * 32, b"\x01" * 66) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    position=st.integers(0, 63),
    xor=st.integers(1, 255),
    v=st.sampled_from([None, 0, 1, 27, 28, 29, 2]),
)
def test_a_mutated_signature_gets_the_sdk_verdict(
    position: int, xor: int, v: int | None, offline_sdk_verify: Any
) -> None:
    header, requirements = signed_payment("0x" + "42" * 32, "https://certify.example/v1/certify/r-1")
    obj = json.loads(base64.b64decode(header))
    signature = bytearray(bytes.fromhex(obj["payload"]["signature"][2:]))
    signature[position] ^= xor
    if v is not None:
        signature[64] = v
    obj["payload"]["signature"] = "0x" + signature.hex()
    mutated = encode_header(obj)
    now = int(time.time())
    ours = check_payment(decode_header(mutated), parse_requirements(requirements), now)  # type: ignore[arg-type]
    theirs = offline_sdk_verify(mutated, requirements)
    expected_reason = None if theirs.is_valid else our_reason(theirs.invalid_reason)
    assert (ours.is_valid, ours.reason) == (theirs.is_valid, expected_reason)


def test_recover_signer_checksums_the_signer_and_answers_none_for_a_signature_that_recovers_nobody() -> None:
    account = Account.from_key("0x" + "42" * 32)
    domain = Domain("USDC", "2", 84532, "0x036CbD53842c5426634e7929541eC2318f3dCF7e")
    authorization = Authorization(account.address, "0x" + "22" * 20, 1, 0, 2**40, "0x" + "33" * 32)
    signed = Account._sign_hash(digest_bytes(authorization, domain), account.key)
    signature = "0x" + signed.signature.hex().removeprefix("0x")
    assert recover_signer(authorization, domain, signature) == account.address
    assert recover_signer(authorization, domain, "0x" + "00" * 65) is None
