"""What a Circular node checks on a submitted transaction, written independently of certify_circular.

Uses python-ecdsa (the official library's own dependency) so the sandbox and the circular server
(coincurve) are two implementations that must agree. Every check returns a NAG result code and text
or None; the codes follow specs/circular.md (108, 117, 118, 119, 121).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from ecdsa import BadDigestError, BadSignatureError, SECP256k1, VerifyingKey
from ecdsa.der import UnexpectedDER
from ecdsa.keys import MalformedPointError
from ecdsa.util import sigdecode_der

WALLET_NOT_FOUND = 108
INVALID_PAYLOAD = 117  # also used for an ID that does not match the fields it covers
WRONG_FORMAT = 118
INVALID_SIGNATURE = 119
INSUFFICIENT_BALANCE = 120  # sandbox's own code: the network's is undocumented
INVALID_NONCE = 121

Problem = tuple[int, str]

_HEX = re.compile(r"^[0-9a-f]*$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^\d{4}:(0[1-9]|1[0-2]):(0[1-9]|[12]\d|3[01])-([01]\d|2[0-3]):[0-5]\d:[0-5]\d$")
_NONCE = re.compile(r"^(0|[1-9]\d{0,17})$")
TX_FIELDS = ("ID", "From", "To", "Timestamp", "Payload", "Nonce", "Signature", "Blockchain", "Type")
KNOWN_TYPES = frozenset({"C_TYPE_CERTIFICATE", "C_TYPE_REGISTERWALLET"})


def unprefixed(value: str) -> str:
    """Hex text without ``0x`` (the libraries send both forms for addresses and chains)."""
    return value[2:] if value.startswith("0x") else value


def address_of(public_key_hex: str) -> str:
    """SHA-256 hex of the ASCII text of the uncompressed public key."""
    return hashlib.sha256(public_key_hex.encode("ascii")).hexdigest()


def recomputed_id(tx: dict[str, str]) -> str:
    """SHA-256 of Blockchain + From + To + Payload + Nonce + Timestamp as the node sees them."""
    text = (
        unprefixed(tx["Blockchain"])
        + unprefixed(tx["From"])
        + unprefixed(tx["To"])
        + tx["Payload"]
        + tx["Nonce"]
        + tx["Timestamp"]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def format_problem(body: Any) -> Problem | None:
    """Missing fields, non-string values, non-hex ids or a malformed timestamp or nonce → 118."""
    if not isinstance(body, dict):
        return WRONG_FORMAT, "Wrong Format"
    for name in TX_FIELDS:
        if not isinstance(body.get(name), str):
            return WRONG_FORMAT, f"Wrong Format: missing {name}"
    for name in ("ID", "From", "To", "Blockchain"):
        if not _HEX64.match(unprefixed(body[name])):
            return WRONG_FORMAT, f"Wrong Format: {name}"
    if not _HEX.match(body["Payload"]) or not _HEX.match(body["Signature"]):
        return WRONG_FORMAT, "Wrong Format: hex fields"
    if not _TIMESTAMP.match(body["Timestamp"]):
        return WRONG_FORMAT, "Wrong Format: Timestamp"
    if not _NONCE.match(body["Nonce"]):
        return WRONG_FORMAT, "Wrong Format: Nonce"
    if body["Type"] not in KNOWN_TYPES:
        return WRONG_FORMAT, "Wrong Format: Type"
    return None


def decoded_payload(payload_hex: str) -> dict[str, Any] | None:
    """The payload as a JSON object, or None when it is not hex-encoded UTF-8 JSON with an Action."""
    if len(payload_hex) % 2:
        return None
    try:
        payload = json.loads(bytes.fromhex(payload_hex).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("Action"), str):
        return None
    return payload


def signature_valid(public_key_hex: str, tx_id: str, signature_hex: str) -> bool:
    """python-ecdsa check of a DER signature over sha256(ID text); high and low ``s`` both accepted."""
    try:
        key = VerifyingKey.from_string(bytes.fromhex(public_key_hex), curve=SECP256k1)
        digest = hashlib.sha256(tx_id.encode("ascii")).digest()
        return bool(key.verify_digest(bytes.fromhex(signature_hex), digest, sigdecode=sigdecode_der))
    except (BadSignatureError, BadDigestError, UnexpectedDER, MalformedPointError, ValueError):
        return False
