"""The one payment-header decoder: what the official SDK sends is read, every hostile variant is a coded 402 reason."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from x402.http.utils import decode_payment_signature_header

from certify_common.errors import Failure
from certify_common.evm import NETWORKS
from certify_common.x402_wire import (
    MAX_HEADER_CHARS,
    PaymentHeader,
    TransferAuthorization,
    accepted_matches,
    decode_payment_header,
)
from certify_testkit.sdk_payments import sdk_pay

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
NETWORK = NETWORKS["base-sepolia"]
EXTRA = {"name": NETWORK.eip712_name, "version": NETWORK.eip712_version}
REQUIREMENTS_V2 = {
    "scheme": "exact",
    "network": NETWORK.caip2,
    "asset": NETWORK.usdc_address,
    "amount": "30000",
    "payTo": PAY_TO,
    "maxTimeoutSeconds": 300,
    "extra": EXTRA,
}
REQUIREMENTS_V1 = {
    "scheme": "exact",
    "network": "base-sepolia",
    "maxAmountRequired": "30000",
    "resource": "https://certify.example/v1/certify",
    "description": "certification",
    "mimeType": "application/json",
    "payTo": PAY_TO,
    "maxTimeoutSeconds": 300,
    "asset": NETWORK.usdc_address,
    "extra": EXTRA,
}


def _sdk_header(version: int) -> str:
    if version == 1:
        return sdk_pay({"x402Version": 1, "accepts": [REQUIREMENTS_V1]}, KEY)
    return sdk_pay(
        {"x402Version": 2, "resource": {"url": "https://certify.example"}, "accepts": [REQUIREMENTS_V2]}, KEY
    )


V1 = _sdk_header(1)
V2 = _sdk_header(2)


def _obj(header: str) -> dict[str, Any]:
    return json.loads(base64.b64decode(header))  # type: ignore[no-any-return]


def _encode(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def _with(path: str, value: Any, header: str = V1) -> str:
    obj = copy.deepcopy(_obj(header))
    *parents, last = path.split(".")
    target = obj
    for key in parents:
        target = target[key]
    target[last] = value
    return _encode(obj)


def _decoded(header: str) -> PaymentHeader:
    result = decode_payment_header(header)
    assert isinstance(result, PaymentHeader), result
    return result


@pytest.mark.parametrize("version", [1, 2])
def test_the_sdks_own_headers_decode_to_the_authorization_it_signed(version: int) -> None:
    header = V1 if version == 1 else V2
    decoded = _decoded(header)
    theirs = decode_payment_signature_header(header)
    auth = theirs.payload["authorization"]
    assert decoded.version == version
    assert decoded.network is NETWORK
    assert decoded.scheme == "exact"
    assert decoded.signature == theirs.payload["signature"]
    assert decoded.authorization == TransferAuthorization(
        auth["from"], auth["to"], int(auth["value"]), int(auth["validAfter"]), int(auth["validBefore"]), auth["nonce"]
    )
    assert decoded.authorization.as_wire() == auth
    assert decoded.payer == Account.from_key(KEY).address.lower()
    assert decoded.wire == _obj(header)


def test_a_v2_header_carries_its_accepted_block_typed() -> None:
    accepted = _decoded(V2).accepted
    assert accepted is not None
    assert (accepted.network, accepted.amount, accepted.pay_to, accepted.max_timeout_seconds) == (
        NETWORK.caip2,
        30000,
        PAY_TO,
        300,
    )


@pytest.mark.parametrize("version", [1, 2])
def test_url_safe_base64_with_or_without_padding_decodes_like_the_standard_form(version: int) -> None:
    header = V1 if version == 1 else V2
    # Pad the JSON so that its base64 has both URL-specific characters and padding.
    obj = _obj(header)
    for filler in range(64):
        text = json.dumps({**obj, "resource": "?" * filler + ">"}).encode()
        urlsafe = base64.urlsafe_b64encode(text).decode()
        if ("-" in urlsafe or "_" in urlsafe) and urlsafe.endswith("="):
            break
    else:
        pytest.fail("no filler gave URL-specific characters and padding")
    standard = base64.b64encode(text).decode()
    assert _decoded(urlsafe).authorization == _decoded(standard).authorization
    assert _decoded(urlsafe.rstrip("=")).authorization == _decoded(standard).authorization


BAD = "invalid_payload"


def _auth(field: str, value: Any) -> str:
    return _with(f"payload.authorization.{field}", value)


UINT_FIELDS = ("value", "validAfter", "validBefore")
HOSTILE: list[tuple[str, Callable[[], str], str]] = [
    *[(f"{f} superscript two", lambda f=f: _auth(f, "²"), BAD) for f in UINT_FIELDS],
    ("value in Arabic-Indic digits", lambda: _auth("value", "١٢٣"), BAD),
    ("negative value", lambda: _auth("value", "-30000"), BAD),
    ("value of 2**256", lambda: _auth("value", str(2**256)), BAD),
    ("value 2**256 - 1 is still a uint256", lambda: _auth("value", str(2**256 - 1)), ""),
    ("value with a leading plus", lambda: _auth("value", "+30000"), BAD),
    ("value with spaces", lambda: _auth("value", " 30000"), BAD),
    ("value as a JSON number", lambda: _auth("value", 30000), BAD),
    ("value of 79 digits", lambda: _auth("value", "1" * 79), BAD),
    ("empty value", lambda: _auth("value", ""), BAD),
    ("value with a trailing newline", lambda: _auth("value", "30000\n"), BAD),
    ("nonce with a trailing newline", lambda: _auth("nonce", "0x" + "ab" * 32 + "\n"), BAD),
    ("from with a trailing newline", lambda: _auth("from", "0x" + "ab" * 20 + "\n"), BAD),
    ("to not an address", lambda: _auth("to", "alice"), BAD),
    ("short nonce", lambda: _auth("nonce", "0x1234"), BAD),
    ("nonce in full-width digits", lambda: _auth("nonce", "0x" + "１" * 64), BAD),
    ("signature of 64 bytes", lambda: _with("payload.signature", "0x" + "ab" * 64), BAD),
    ("signature of odd length", lambda: _with("payload.signature", "0x" + "a" * 131), BAD),
    ("signature with a trailing newline", lambda: _with("payload.signature", "0x" + "ab" * 65 + "\n"), BAD),
    ("no authorization", lambda: _with("payload", {"signature": "0x" + "ab" * 65}), BAD),
    ("payload is a list", lambda: _with("payload", []), BAD),
    ("x402Version 3", lambda: _with("x402Version", 3), "invalid_x402_version"),
    ("x402Version true", lambda: _with("x402Version", True), "invalid_x402_version"),
    ("x402Version as a string", lambda: _with("x402Version", "1"), "invalid_x402_version"),
    ("another scheme", lambda: _with("scheme", "upto"), "unsupported_scheme"),
    ("v1 without network", lambda: _with("network", None), BAD),
    ("v2 without accepted", lambda: _with("accepted", None, V2), BAD),
    ("v2 accepted amount negative", lambda: _with("accepted.amount", "-1", V2), BAD),
    ("v2 accepted maxTimeoutSeconds true", lambda: _with("accepted.maxTimeoutSeconds", True, V2), BAD),
    ("v2 accepted extra a list", lambda: _with("accepted.extra", [], V2), BAD),
    ("v2 accepted scheme other", lambda: _with("accepted.scheme", "upto", V2), "unsupported_scheme"),
    ("not base64", lambda: "not a payment!", BAD),
    ("mixed base64 alphabets", lambda: "ab+c-d__", BAD),
    ("base64 with a wrong padding", lambda: V1 + "=", BAD),
    ("base64 with one char too many", lambda: V1.rstrip("=") + "A", BAD),
    ("base64 with a newline inside", lambda: V1[:10] + "\n" + V1[10:], BAD),
    ("base64 in full-width letters", lambda: "ｅｙＪ４", BAD),
    ("base64 of non-JSON", lambda: base64.b64encode(b"hello world").decode(), BAD),
    ("base64 of Latin-1 bytes", lambda: base64.b64encode(b'{"x":"\xff"}').decode(), BAD),
    ("JSON array", lambda: _encode([1, 2]), BAD),
    ("JSON string", lambda: _encode("a payment"), BAD),
    ("JSON null", lambda: _encode(None), BAD),
    ("JSON NaN", lambda: base64.b64encode(b'{"x402Version": NaN}').decode(), BAD),
    ("duplicate keys", lambda: base64.b64encode(b'{"x402Version":1,"x402Version":2}').decode(), BAD),
    ("deeply nested JSON", lambda: base64.b64encode(b"[" * 5000 + b"]" * 5000).decode(), BAD),
    ("a huge integer", lambda: base64.b64encode(b'{"x402Version":' + b"9" * 5000 + b"}").decode(), BAD),
    ("empty header", lambda: "", BAD),
    ("huge header", lambda: "A" * (MAX_HEADER_CHARS + 1), BAD),
]


@pytest.mark.parametrize(("name", "build", "code"), HOSTILE, ids=[row[0] for row in HOSTILE])
def test_hostile_headers_are_refused_with_a_specification_reason(
    name: str, build: Callable[[], str], code: str
) -> None:
    result = decode_payment_header(build())
    if not code:
        assert isinstance(result, PaymentHeader)
        return
    assert isinstance(result, Failure), result
    assert (result.code, result.retryable) == (code, False)


def test_a_refusal_names_the_field_and_never_echoes_the_value() -> None:
    result = decode_payment_header(_with("payload.authorization.value", "31337²"))
    assert isinstance(result, Failure)
    assert result.details == {"field": "payload.authorization.value"}
    assert "31337" not in result.message


OFFER_CHANGES: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("amount", lambda a: a.update(amount="1")),
    ("amount with a leading zero", lambda a: a.update(amount="030000")),
    ("payTo", lambda a: a.update(payTo="0x" + "12" * 20)),
    ("payTo in other case", lambda a: a.update(payTo=PAY_TO.lower())),
    ("asset", lambda a: a.update(asset=NETWORKS["base"].usdc_address)),
    ("network", lambda a: a.update(network="eip155:8453")),
    ("maxTimeoutSeconds", lambda a: a.update(maxTimeoutSeconds=3600)),
    ("extra.name", lambda a: a.update(extra={**EXTRA, "name": "USD Coin"})),
    ("extra without version", lambda a: a.update(extra={"name": EXTRA["name"]})),
]


@pytest.mark.parametrize(("name", "change"), OFFER_CHANGES, ids=[row[0] for row in OFFER_CHANGES])
def test_an_accepted_block_differing_from_the_offer_does_not_match(
    name: str, change: Callable[[dict[str, Any]], None]
) -> None:
    obj = _obj(V2)
    change(obj["accepted"])
    assert not accepted_matches(_decoded(_encode(obj)), REQUIREMENTS_V2)


def test_the_sdks_accepted_block_matches_the_offer_and_may_add_extra_fields() -> None:
    assert accepted_matches(_decoded(V2), REQUIREMENTS_V2)
    assert accepted_matches(_decoded(_with("accepted.extra", {**EXTRA, "note": "mine"}, V2)), REQUIREMENTS_V2)
    assert accepted_matches(_decoded(V1), REQUIREMENTS_V1)
