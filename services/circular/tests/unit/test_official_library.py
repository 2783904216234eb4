"""Property: for random keys, data, nonces and timestamps our transaction equals the official library's.

The official ``circular-enterprise-apis`` ``CEP_Account`` is driven offline: ``requests.post`` is
replaced by a recorder and the timestamp helper is fixed, exactly as the vectors in vectors/ were made.
"""

from __future__ import annotations

import hashlib
import importlib
from datetime import UTC, datetime
from typing import Any

import pytest
from circular_enterprise_apis import CEP_Account, helper
from ecdsa.rfc6979 import generate_k
from hypothesis import given, settings
from hypothesis import strategies as st

from certify_circular.keys import CURVE_ORDER, Wallet, rfc6979_nonce, verify_signature
from certify_circular.transaction import build_certificate, format_timestamp

# The package re-exports the class under the module's name, so fetch the module itself.
account_module = importlib.import_module("circular_enterprise_apis.CEP_Account")
CHAINS = st.sampled_from(
    [
        "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2",
        "0x714d2ac07a826b66ac56752eebd7c77b58d2ee842e523d913fd0ef06e6bdfcae",
    ]
)


class _Recorded:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict[str, Any]:
        return {"Result": 200, "Response": {"Nonce": 0, "TxID": self.body.get("ID")}, "Node": "0" * 64}


def official_transaction(
    monkeypatch: pytest.MonkeyPatch, key_hex: str, address: str, chain: str, data: str, api_nonce: int, stamp: str
) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    def post(url: str, json: dict[str, Any]) -> _Recorded:
        sent.append(json)
        recorded = _Recorded(json)
        if url.endswith("Circular_GetWalletNonce_"):
            recorded.json = lambda: {"Result": 200, "Response": {"Nonce": api_nonce}, "Node": "0" * 64}  # type: ignore[method-assign]
        return recorded

    monkeypatch.setattr(account_module.requests, "post", post)
    monkeypatch.setattr(helper, "get_formatted_timestamp", lambda: stamp)
    account = CEP_Account()
    account.open(address)
    account.set_blockchain(chain)
    assert account.update_account()
    account.submit_certificate(data, key_hex)
    return sent[-1]


@settings(max_examples=25, deadline=None)
@given(
    secret=st.integers(min_value=1, max_value=CURVE_ORDER - 1),
    data=st.text(min_size=0, max_size=80),
    api_nonce=st.integers(min_value=0, max_value=10**9),
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)),
    chain=CHAINS,
)
def test_our_transaction_equals_the_official_library_for_random_inputs(
    secret: int, data: str, api_nonce: int, moment: datetime, chain: str
) -> None:
    key_hex = f"{secret:064x}"
    wallet = Wallet.from_hex(key_hex)
    stamp = format_timestamp(moment)
    with pytest.MonkeyPatch.context() as monkeypatch:
        official = official_transaction(monkeypatch, key_hex, wallet.address, chain, data, api_nonce, stamp)

    ours = build_certificate(wallet, chain, data, api_nonce + 1, stamp).to_body()

    assert ours == official
    assert verify_signature(wallet.public_key_hex, ours["ID"], ours["Signature"])


@settings(max_examples=25, deadline=None)
@given(secret=st.integers(min_value=1, max_value=CURVE_ORDER - 1), digest=st.binary(min_size=32, max_size=32))
def test_rfc6979_nonce_equals_python_ecdsa(secret: int, digest: bytes) -> None:
    assert rfc6979_nonce(secret, digest) == generate_k(CURVE_ORDER, secret, hashlib.sha256, digest)


def test_official_timestamp_format_matches_ours() -> None:
    moment = datetime(2024, 2, 29, 8, 5, 9, tzinfo=UTC)
    assert format_timestamp(moment) == moment.strftime("%Y:%m:%d-%H:%M:%S") == "2024:02:29-08:05:09"
