"""The signing shortcuts (hand-written DER, RFC 6979 with a spelled-out HMAC, the raw-s choice) equal the
libraries they replace."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import pytest
from coincurve import PrivateKey
from ecdsa import SECP256k1, SigningKey
from ecdsa.util import sigencode_der
from hypothesis import given, settings
from hypothesis import strategies as st

from certify_circular.keys import CURVE_ORDER, Wallet, compact_to_der, rfc6979_nonce, rs_to_der

SCALARS = st.one_of(
    st.integers(min_value=1, max_value=CURVE_ORDER - 1),
    st.sampled_from([1, 127, 128, 255, 256, 2**255, CURVE_ORDER - 1]),
)


@settings(max_examples=200, deadline=None)
@given(r=SCALARS, s=SCALARS)
def test_the_der_encoding_equals_libsecp256k1s_for_any_r_and_s(r: int, s: int) -> None:
    assert compact_to_der(r.to_bytes(32, "big"), s.to_bytes(32, "big")) == rs_to_der(r, s)


@settings(max_examples=50, deadline=None)
@given(secret=st.integers(min_value=1, max_value=CURVE_ORDER - 1), message=st.text(max_size=64))
def test_a_signature_equals_python_ecdsas_with_the_rfc6979_nonce(secret: int, message: str) -> None:
    digest = hashlib.sha256(message.encode()).digest()
    key = SigningKey.from_secret_exponent(secret, curve=SECP256k1)
    k = rfc6979_nonce(secret, digest)
    official = key.sign_digest(digest, sigencode=sigencode_der, k=k).hex()
    assert Wallet.from_hex(f"{secret:064x}").sign_text(message) == official


def test_a_digest_above_the_curve_order_is_reduced_before_deriving_the_nonce() -> None:
    digest = b"\xff" * 32
    reduced = (int.from_bytes(digest, "big") - CURVE_ORDER).to_bytes(32, "big")
    x = (7).to_bytes(32, "big")
    v = b"\x01" * 32
    k = hmac.digest(b"\x00" * 32, v + b"\x00" + x + reduced, "sha256")
    v = hmac.digest(k, v, "sha256")
    k = hmac.digest(k, v + b"\x01" + x + reduced, "sha256")
    v = hmac.digest(k, v, "sha256")
    assert rfc6979_nonce(7, digest) == int.from_bytes(hmac.digest(k, v, "sha256"), "big")


def test_a_wallet_whose_key_and_secret_disagree_refuses_to_sign() -> None:
    good = Wallet.from_hex("42" * 32)
    broken = dataclasses.replace(good, _private_key=PrivateKey(bytes.fromhex("43" * 32)))
    with pytest.raises(RuntimeError, match="disagree"):
        broken.sign_text("anything")
