"""The x402 payment header, decoded once for every party: the proxy and the x402 server read it alike.

A header value (``X-PAYMENT`` in v1, ``PAYMENT-SIGNATURE`` in v2) is base64 of a JSON object, in the
shapes the official SDK defines (``x402.schemas.v1.PaymentPayloadV1``: ``{x402Version: 1, scheme,
network, payload}``; ``x402.schemas.PaymentPayload``: ``{x402Version: 2, accepted, payload, resource?,
extensions?}``). The ``exact`` EVM payload is ``{signature, authorization: {from, to, value, validAfter,
validBefore, nonce}}`` with decimal strings for the integers.

Decoding is strict, so a hostile value never reaches arithmetic, signer recovery or a database: the
standard and the URL-safe base64 alphabets are both accepted (not mixed), padding optional but never wrong;
UTF-8 JSON with no duplicate keys; uint256 fields are 1–78 ASCII digits below 2**256 (``²`` and ``١٢٣``
are digits to ``str.isdigit`` but not here); addresses are ``0x`` + 40 hex, the nonce ``0x`` + 64 hex, the
signature ``0x`` + at least 65 bytes of hex. Every refusal is a :class:`Failure` whose code is one of the
x402 specification's ``invalidReason`` codes: ``invalid_payload``, ``invalid_x402_version``,
``unsupported_scheme``. The SDK's own decoder is lenient (any ``x402Version`` but 1 is read as v2, integers
are unchecked strings, the payload an untyped dict), which is why this one is written here.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from certify_common.codes import FailureCode
from certify_common.errors import Failure, failure
from certify_common.evm import ADDRESS_PATTERN, UsdcNetwork, lookup

#: Longest header value read; a real payment is under 2 KB (an ERC-6492 signature adds about 1 KB).
MAX_HEADER_CHARS = 8_192
UINT256_LIMIT = 2**256
INVALID_PAYLOAD = FailureCode.INVALID_PAYLOAD
INVALID_VERSION = FailureCode.INVALID_X402_VERSION
UNSUPPORTED_SCHEME = FailureCode.UNSUPPORTED_SCHEME
#: The fields of v2 requirements that must equal the offer exactly (the SDK's server-side match).
ACCEPTED_TERMS = ("scheme", "network", "amount", "asset", "payTo", "maxTimeoutSeconds")

# Used with fullmatch only: ``$`` would admit a trailing newline.
_UINT = re.compile(r"[0-9]{1,78}")
_ADDRESS = re.compile(ADDRESS_PATTERN)
_BYTES32 = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGNATURE = re.compile(r"0x(?:[0-9a-fA-F]{2}){65,}")
_STANDARD_B64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_TO_STANDARD = str.maketrans("-_", "+/")


@dataclass(frozen=True)
class TransferAuthorization:
    """The EIP-3009 ``TransferWithAuthorization`` message the payer signed (nonce in lower case)."""

    from_address: str
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: str

    def as_wire(self) -> dict[str, str]:
        """The camelCase wire form (decimal strings)."""
        return {
            "from": self.from_address,
            "to": self.to,
            "value": str(self.value),
            "validAfter": str(self.valid_after),
            "validBefore": str(self.valid_before),
            "nonce": self.nonce,
        }


@dataclass(frozen=True)
class AcceptedRequirements:
    """A v2 payment's ``accepted`` block: the requirements the payer says it fulfils."""

    scheme: str
    network: str
    asset: str
    amount: int
    pay_to: str
    max_timeout_seconds: int
    extra: Mapping[str, Any]


@dataclass(frozen=True)
class PaymentHeader:
    """A decoded payment header. ``wire`` is the decoded JSON object, forwarded unchanged to a facilitator."""

    version: int
    scheme: str
    network_id: str
    accepted: AcceptedRequirements | None
    authorization: TransferAuthorization
    signature: str
    wire: Mapping[str, Any]

    @property
    def network(self) -> UsdcNetwork | None:
        """The network the payment names (v1 name or CAIP-2), if certify knows it."""
        return lookup(self.network_id) if self.network_id else None

    @property
    def payer(self) -> str:
        """``authorization.from`` in lower case."""
        return self.authorization.from_address.lower()


class _Invalid(Exception):
    """One malformed field, turned into a :class:`Failure` at the edge of :func:`decode_payment_header`."""

    def __init__(self, field: str, message: str, code: str = INVALID_PAYLOAD) -> None:
        super().__init__(message)
        self.field, self.message, self.code = field, message, code


def is_uint256(value: Any) -> bool:
    """A decimal string of 1–78 ASCII digits below 2**256 (the wire form of every x402 integer)."""
    return isinstance(value, str) and _UINT.fullmatch(value) is not None and int(value) < UINT256_LIMIT


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(field, f"{field} must be a JSON object")
    return value


def _text(obj: Mapping[str, Any], key: str, field: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{field}.{key}", f"{field}.{key} must be a non-empty string")
    return value


def _matching(obj: Mapping[str, Any], key: str, field: str, pattern: re.Pattern[str], shape: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise _Invalid(f"{field}.{key}", f"{field}.{key} must be {shape}")
    return value


def _uint256(obj: Mapping[str, Any], key: str, field: str) -> int:
    number = int(_matching(obj, key, field, _UINT, "a decimal string of ASCII digits"))
    if number >= UINT256_LIMIT:
        raise _Invalid(f"{field}.{key}", f"{field}.{key} must be below 2**256")
    return number


def _authorization(payload: dict[str, Any]) -> TransferAuthorization:
    auth = _object(payload.get("authorization"), "payload.authorization")
    field = "payload.authorization"
    return TransferAuthorization(
        from_address=_matching(auth, "from", field, _ADDRESS, "0x + 40 hex digits"),
        to=_matching(auth, "to", field, _ADDRESS, "0x + 40 hex digits"),
        value=_uint256(auth, "value", field),
        valid_after=_uint256(auth, "validAfter", field),
        valid_before=_uint256(auth, "validBefore", field),
        nonce=_matching(auth, "nonce", field, _BYTES32, "0x + 64 hex digits").lower(),
    )


def _accepted(obj: dict[str, Any]) -> AcceptedRequirements:
    block = _object(obj.get("accepted"), "accepted")
    timeout = block.get("maxTimeoutSeconds")
    if type(timeout) is not int or timeout < 0:
        raise _Invalid("accepted.maxTimeoutSeconds", "accepted.maxTimeoutSeconds must be a non-negative integer")
    extra = block.get("extra", {})
    return AcceptedRequirements(
        scheme=_text(block, "scheme", "accepted"),
        network=_text(block, "network", "accepted"),
        asset=_matching(block, "asset", "accepted", _ADDRESS, "0x + 40 hex digits"),
        amount=_uint256(block, "amount", "accepted"),
        pay_to=_matching(block, "payTo", "accepted", _ADDRESS, "0x + 40 hex digits"),
        max_timeout_seconds=timeout,
        extra=_object(extra, "accepted.extra"),
    )


def _payment(obj: Any) -> PaymentHeader:
    obj = _object(obj, "the payment")
    version = obj.get("x402Version")
    if type(version) is not int or version not in (1, 2):
        raise _Invalid("x402Version", "x402Version must be 1 or 2", INVALID_VERSION)
    accepted = _accepted(obj) if version == 2 else None
    scheme = accepted.scheme if accepted is not None else _text(obj, "scheme", "the payment")
    network = accepted.network if accepted is not None else _text(obj, "network", "the payment")
    if scheme != "exact":
        raise _Invalid("scheme", "only the exact scheme is accepted", UNSUPPORTED_SCHEME)
    payload = _object(obj.get("payload"), "payload")
    authorization = _authorization(payload)
    signature = _matching(payload, "signature", "payload", _SIGNATURE, "0x + hex of at least 65 bytes")
    return PaymentHeader(version, scheme, network, accepted, authorization, signature, obj)


def _base64(text: str) -> bytes | None:
    """Standard or URL-safe base64 (one alphabet), padding optional but exact when present."""
    if _STANDARD_B64.fullmatch(text) is None:
        if _URLSAFE_B64.fullmatch(text) is None:
            return None
        text = text.translate(_TO_STANDARD)
    body = text.rstrip("=")
    padded = body + "=" * (-len(body) % 4)
    if len(body) % 4 == 1 or (text != body and text != padded):
        return None
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:
        return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key")
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode_json(header: str) -> Any | Failure:
    """The JSON value inside a base64 header (any x402 header: payment, requirements, response)."""
    text = header.strip(" \t")
    if not text or len(text) > MAX_HEADER_CHARS:
        return failure(INVALID_PAYLOAD, f"the header is empty or longer than {MAX_HEADER_CHARS} characters")
    raw = _base64(text)
    if raw is None:
        return failure(INVALID_PAYLOAD, "the header is not base64 (standard or URL-safe alphabet)")
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return failure(INVALID_PAYLOAD, "the header is not base64 of UTF-8 JSON (without duplicate keys)")


def decode_payment_header(header: str) -> PaymentHeader | Failure:
    """Decode an ``X-PAYMENT`` (v1) or ``PAYMENT-SIGNATURE`` (v2) value, or say which field is wrong.

    Failures: ``invalid_payload`` (details.field names the field when the JSON was read),
    ``invalid_x402_version``, ``unsupported_scheme``. Never raises on any input string.
    """
    decoded = decode_json(header)
    if isinstance(decoded, Failure):
        return decoded
    return parse_payment(decoded)


def parse_payment(obj: Any) -> PaymentHeader | Failure:
    """Read an already JSON-decoded payment object with the same rules as :func:`decode_payment_header`."""
    try:
        return _payment(obj)
    except _Invalid as invalid:
        return failure(invalid.code, invalid.message, field=invalid.field)


def _contains(offered: Any, accepted: Any) -> bool:
    if isinstance(offered, dict):
        return isinstance(accepted, dict) and all(
            key in accepted and _contains(value, accepted[key]) for key, value in offered.items()
        )
    return type(offered) is type(accepted) and bool(offered == accepted)


def accepted_matches(payment: PaymentHeader, offered: Mapping[str, Any]) -> bool:
    """Whether a v2 payment's ``accepted`` block is the offered v2 requirements (the SDK server's rule).

    Scheme, network, amount, asset, payTo and maxTimeoutSeconds are equal as sent; every field of the
    offer's ``extra`` is present with the same value (the payer may add fields). v1 payments carry no block.
    """
    if payment.version != 2:
        return True
    block = payment.wire.get("accepted")
    if not isinstance(block, dict):
        return False
    same_terms = all(
        type(block.get(term)) is type(offered.get(term)) and block.get(term) == offered.get(term)
        for term in ACCEPTED_TERMS
    )
    return same_terms and _contains(offered.get("extra") or {}, block.get("extra") or {})
