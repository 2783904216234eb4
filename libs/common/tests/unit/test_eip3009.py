"""The hand-encoded EIP-3009 digest equals eth-account's generic EIP-712 encoding of the same typed data."""

from __future__ import annotations

import pytest
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from certify_common import eip3009

UINT256 = st.integers(min_value=0, max_value=2**256 - 1)
ADDRESSES = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
MIXED_CASE = st.tuples(ADDRESSES, st.booleans()).map(
    lambda pair: pair[0].upper().replace("0X", "0x") if pair[1] else pair[0]
)
NONCES = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=24)


def _type_string(name: str) -> bytes:
    fields = ",".join(f"{field['type']} {field['name']}" for field in eip3009.TYPES[name])
    return f"{name}({fields})".encode()


def test_the_type_hashes_are_the_keccak_of_the_shared_type_definitions() -> None:
    assert keccak(_type_string("EIP712Domain")) == eip3009.DOMAIN_TYPEHASH
    assert keccak(_type_string(eip3009.PRIMARY_TYPE)) == eip3009.TRANSFER_TYPEHASH


@settings(max_examples=150, deadline=None)
@given(
    name=TEXT,
    version=TEXT,
    chain_id=st.integers(min_value=0, max_value=2**64),
    contract=MIXED_CASE,
    from_address=MIXED_CASE,
    to=ADDRESSES,
    value=UINT256,
    valid_after=UINT256,
    valid_before=UINT256,
    nonce=NONCES,
)
def test_the_digest_equals_eth_accounts_encoding_of_the_typed_data(
    name: str,
    version: str,
    chain_id: int,
    contract: str,
    from_address: str,
    to: str,
    value: int,
    valid_after: int,
    valid_before: int,
    nonce: str,
) -> None:
    fields = {
        "name": name,
        "version": version,
        "chain_id": chain_id,
        "verifying_contract": contract,
        "from_address": from_address,
        "to": to,
        "value": value,
        "valid_after": valid_after,
        "valid_before": valid_before,
        "nonce": nonce,
    }
    expected = bytes(_hash_eip191_message(encode_typed_data(full_message=eip3009.typed_data(**fields))))
    assert eip3009.digest(**fields) == expected


VALID = {
    "name": "USDC",
    "version": "2",
    "chain_id": 84532,
    "verifying_contract": "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    "from_address": "0x" + "11" * 20,
    "to": "0x" + "22" * 20,
    "value": 10_000,
    "valid_after": 0,
    "valid_before": 2**40,
    "nonce": "0x" + "33" * 32,
}


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"from_address": "0x" + "11" * 19}, "address"),
        ({"verifying_contract": "0x" + "44" * 21}, "address"),
        ({"nonce": "0x" + "33" * 31}, "nonce"),
        ({"value": -1}, "uint256"),
        ({"valid_before": 2**256}, "uint256"),
    ],
)
def test_a_field_outside_its_solidity_type_is_refused_rather_than_hashed(
    override: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        eip3009.digest(**{**VALID, **override})  # type: ignore[arg-type]


def test_the_domain_separator_is_computed_once_per_domain() -> None:
    eip3009.domain_separator.cache_clear()
    first = eip3009.digest(**VALID)  # type: ignore[arg-type]
    again = eip3009.digest(**{**VALID, "value": 1})  # type: ignore[arg-type]
    info = eip3009.domain_separator.cache_info()
    assert first != again
    assert (info.misses, info.hits) == (1, 1)
