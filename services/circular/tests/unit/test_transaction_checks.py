"""The pure checks of transactions, timestamps, payloads and signatures refuse what is not genuine."""

from __future__ import annotations

import pytest

from certify_circular import keys
from certify_circular.keys import CURVE_ORDER, InvalidKeyError, Wallet, der_to_rs, rs_to_der, verify_signature
from certify_circular.transaction import (
    build_certificate,
    certificate_payload_json,
    certified_data_of,
    iso_timestamp,
    parse_timestamp,
    text_to_hex,
    transaction_problem,
)

CHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"
WALLET = Wallet.from_hex("42" * 32)
OTHER = Wallet.from_hex("43" * 32)


def _certificate() -> object:
    return build_certificate(WALLET, CHAIN, "a" * 64, 7, "2025:01:01-00:00:00")


def test_a_genuine_certificate_has_no_problem() -> None:
    assert transaction_problem(_certificate(), WALLET.public_key_hex) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"id": "Z" * 64}, "ID is not 64 lower-case hex"),
        ({"nonce": "8"}, "ID does not match the transaction fields"),
        ({"payload": text_to_hex(certificate_payload_json("b" * 64))}, "ID does not match the transaction fields"),
        ({"signature": OTHER.sign_text("0" * 64)}, "signature does not sign the ID with this key"),
    ],
)
def test_each_altered_field_is_named(change: dict[str, str], problem: str) -> None:
    altered = _certificate()._replace(**change)
    assert transaction_problem(altered, WALLET.public_key_hex) == problem


def test_a_transaction_checked_against_another_key_is_not_from_it() -> None:
    assert transaction_problem(_certificate(), OTHER.public_key_hex) == "From is not the address of the public key"  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["2025-01-01T00:00:00Z", "2025:13:01-00:00:00", "2025:02:30-00:00:00", ""])
def test_timestamps_not_in_the_circular_format_or_impossible_are_not_parsed(text: str) -> None:
    assert parse_timestamp(text) is None
    assert iso_timestamp(text) == text


def test_a_circular_timestamp_reads_as_iso_utc() -> None:
    assert iso_timestamp("2025:01:02-03:04:05") == "2025-01-02T03:04:05Z"


@pytest.mark.parametrize(
    "payload_hex",
    [
        text_to_hex('{"Action": "CP_SEND", "Data": "00"}'),
        text_to_hex('["CP_CERTIFICATE"]'),
        text_to_hex('{"Action": "CP_CERTIFICATE", "Data": 5}'),
        "not hex",
        "ff",
    ],
)
def test_payloads_that_are_not_certificates_carry_no_certified_data(payload_hex: str) -> None:
    assert certified_data_of(payload_hex) is None


def test_a_certificate_payload_gives_back_its_data() -> None:
    assert certified_data_of(text_to_hex(certificate_payload_json("Café ✓"))) == "Café ✓"


def test_a_signature_that_is_not_der_is_an_invalid_key_error() -> None:
    with pytest.raises(InvalidKeyError):
        der_to_rs(b"\x30\x02\x01\x00")


@pytest.mark.parametrize(
    ("public_key_hex", "signature_hex"),
    [
        ("04" + "00" * 63, WALLET.sign_text("a" * 64)),  # too short
        ("zz" * 65, WALLET.sign_text("a" * 64)),  # not hex
        (WALLET.public_key_hex, "3006020100020100"),  # r = s = 0
        (WALLET.public_key_hex, "not hex"),
    ],
)
def test_malformed_keys_and_signatures_do_not_verify(public_key_hex: str, signature_hex: str) -> None:
    assert verify_signature(public_key_hex, "a" * 64, signature_hex) is False


def test_a_signature_with_s_at_the_curve_order_does_not_verify() -> None:
    r, _ = der_to_rs(bytes.fromhex(WALLET.sign_text("a" * 64)))
    # DER allows any integer; the curve's range does not.
    body = bytes.fromhex("0221") + b"\x00" + r.to_bytes(32, "big")
    s_field = bytes.fromhex("0221") + b"\x00" + CURVE_ORDER.to_bytes(32, "big")
    forged = bytes([0x30, len(body) + len(s_field)]) + body + s_field
    assert verify_signature(WALLET.public_key_hex, "a" * 64, forged.hex()) is False


def test_high_and_low_s_forms_of_one_signature_both_verify() -> None:
    r, s = der_to_rs(bytes.fromhex(WALLET.sign_text("a" * 64)))
    for form in (s, CURVE_ORDER - s):
        assert verify_signature(WALLET.public_key_hex, "a" * 64, rs_to_der(r, form).hex()) is True


def test_a_signature_whose_nonce_disagrees_with_rfc6979_is_never_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    # The wallet restores the official library's high-s form from the RFC 6979 nonce; a mismatch is a bug.
    monkeypatch.setattr(keys._Nonces, "nonce", lambda _self, _digest: 12345)
    with pytest.raises(RuntimeError, match="disagree"):
        WALLET.sign_text("a" * 64)
