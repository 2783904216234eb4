"""Circular certificate transactions, re-checked from the specification alone (no certify service code).

The rules (ID preimage, payload form, address and signature) are those of the official Circular
Enterprise API libraries: see ``specs/circular.md``.
"""

from __future__ import annotations

import hashlib
import json
import re

from coincurve import PublicKey
from coincurve.ecdsa import cdata_to_der, der_to_cdata, deserialize_compact, serialize_compact

CERTIFICATE_ACTION = "CP_CERTIFICATE"
CERTIFICATE_TYPE = "C_TYPE_CERTIFICATE"
#: Order of the secp256k1 group.
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
PUBLIC_KEY = re.compile(r"^04[0-9a-f]{128}$")


def strip_0x(value: str) -> str:
    """Hex text without a leading ``0x``."""
    return value[2:] if value[:2] in ("0x", "0X") else value


def transaction_id(blockchain: str, sender: str, recipient: str, payload_hex: str, nonce: str, timestamp: str) -> str:
    """SHA-256 hex of the ASCII text Blockchain + From + To + Payload + Nonce + Timestamp."""
    preimage = strip_0x(blockchain) + strip_0x(sender) + strip_0x(recipient) + payload_hex + nonce + timestamp
    return hashlib.sha256(preimage.encode("utf-8")).hexdigest()


def address_of(public_key_hex: str) -> str:
    """A Circular address: SHA-256 hex of the ASCII text of the ``04``+X+Y public key hex."""
    return hashlib.sha256(strip_0x(public_key_hex).lower().encode("ascii")).hexdigest()


def certified_data_of(payload_hex: str) -> str | None:
    """The certified string inside a ``CP_CERTIFICATE`` payload, or None when the payload is not one."""
    try:
        payload = json.loads(bytes.fromhex(payload_hex).decode("utf-8"))
        if not isinstance(payload, dict) or payload.get("Action") != CERTIFICATE_ACTION:
            return None
        data = payload.get("Data")
        return bytes.fromhex(data).decode("utf-8") if isinstance(data, str) else None
    except (ValueError, UnicodeDecodeError):
        return None


def _low_s_der(signature_der: bytes) -> bytes:
    # libsecp256k1 only accepts the low-s form; Circular signatures may carry either (both are valid ECDSA).
    compact = serialize_compact(der_to_cdata(signature_der))
    r, s = compact[:32], int.from_bytes(compact[32:], "big")
    if s > CURVE_ORDER // 2:
        s = CURVE_ORDER - s
    normalised: bytes = cdata_to_der(deserialize_compact(r + s.to_bytes(32, "big")))
    return normalised


def signature_valid(public_key_hex: str, tx_id: str, signature_hex: str) -> bool:
    """Whether ``signature_hex`` (DER) is an ECDSA secp256k1 signature of SHA-256(ID text) by the key."""
    key_hex = strip_0x(public_key_hex).lower()
    if not PUBLIC_KEY.match(key_hex):
        return False
    try:
        key = PublicKey(bytes.fromhex(key_hex))
        signature = _low_s_der(bytes.fromhex(strip_0x(signature_hex)))
        return bool(key.verify(signature, tx_id.encode("ascii"), hasher=lambda data: hashlib.sha256(data).digest()))
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
