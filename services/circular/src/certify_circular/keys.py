"""The service wallet's key: secp256k1 with coincurve, signing exactly as the official library does.

The official Python library signs ``sha256(ID text)`` with python-ecdsa and an RFC 6979 nonce and
does *not* normalise ``s`` to the low half of the curve order, while libsecp256k1 always does. Both
signatures are valid; only the un-normalised one reproduces the official bytes, so after signing
with coincurve we recompute the RFC 6979 nonce and put ``s`` back on the side the official library
would have produced.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from coincurve import PrivateKey, PublicKey
from coincurve.ecdsa import cdata_to_der, der_to_cdata, deserialize_compact, serialize_compact

#: Order of the secp256k1 group.
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX130 = re.compile(r"^04[0-9a-f]{128}$")


class InvalidKeyError(ValueError):
    """A private key, public key or signature that cannot be used."""


def strip_0x(value: str) -> str:
    """The hex text without a leading ``0x`` (the official library's ``hex_fix`` for a prefix)."""
    return value[2:] if value[:2] in ("0x", "0X") else value


def rfc6979_nonce(secret: int, digest: bytes) -> int:
    """The deterministic ECDSA nonce of RFC 6979 (HMAC-SHA256) for a 32-byte digest."""
    x = secret.to_bytes(32, "big")
    h = (int.from_bytes(digest, "big") % CURVE_ORDER).to_bytes(32, "big")
    v = b"\x01" * 32
    k = b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    for _ in range(64):  # a candidate is out of range with probability ~2^-128
        v = hmac.new(k, v, hashlib.sha256).digest()
        candidate = int.from_bytes(v, "big")
        if 1 <= candidate < CURVE_ORDER:
            return candidate
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()  # pragma: no cover - probability ~2^-128
        v = hmac.new(k, v, hashlib.sha256).digest()  # pragma: no cover - probability ~2^-128
    raise RuntimeError("RFC 6979 produced no nonce")  # pragma: no cover - unreachable in practice


def der_to_rs(signature_der: bytes) -> tuple[int, int]:
    """(r, s) of a DER signature; ``InvalidKeyError`` when it does not parse."""
    try:
        compact = serialize_compact(der_to_cdata(signature_der))
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError("signature is not valid DER") from exc
    return int.from_bytes(compact[:32], "big"), int.from_bytes(compact[32:], "big")


def rs_to_der(r: int, s: int) -> bytes:
    """DER encoding of (r, s), keeping ``s`` as given (high or low)."""
    return bytes(cdata_to_der(deserialize_compact(r.to_bytes(32, "big") + s.to_bytes(32, "big"))))


def address_of(public_key_hex: str) -> str:
    """A Circular address: SHA-256 hex of the ASCII text of the 130-hex uncompressed public key."""
    return hashlib.sha256(public_key_hex.lower().encode("ascii")).hexdigest()


def verify_signature(public_key_hex: str, message_text: str, signature_der_hex: str) -> bool:
    """True when the DER signature (high or low ``s``) signs ``sha256(message_text)`` under the key.

    Pure: no I/O. libsecp256k1 accepts only low-``s`` signatures, so a high ``s`` is mirrored first,
    which is the same mathematical check python-ecdsa (the official library) performs.
    """
    key_hex = strip_0x(public_key_hex).lower()
    if not _HEX130.match(key_hex):
        return False
    try:
        public_key = PublicKey(bytes.fromhex(key_hex))
        r, s = der_to_rs(bytes.fromhex(strip_0x(signature_der_hex)))
    except (ValueError, TypeError):
        return False
    if not (1 <= r < CURVE_ORDER and 1 <= s < CURVE_ORDER):
        return False
    low_s = min(s, CURVE_ORDER - s)
    digest = hashlib.sha256(message_text.encode("utf-8")).digest()
    return bool(public_key.verify(rs_to_der(r, low_s), digest, hasher=None))


@dataclass(frozen=True)
class Wallet:
    """The service wallet: private key (never logged or returned), public key and address."""

    _private_key: PrivateKey
    public_key_hex: str
    address: str

    @classmethod
    def from_hex(cls, private_key_hex: str) -> Wallet:
        """Load a 64-hex private key (``0x`` tolerated); ``InvalidKeyError`` when it is not a usable key."""
        text = strip_0x(private_key_hex.strip()).lower()
        if not _HEX64.match(text):
            raise InvalidKeyError("private key must be 64 hex characters")
        secret = int(text, 16)
        if not 1 <= secret < CURVE_ORDER:
            raise InvalidKeyError("private key is outside the secp256k1 range")
        key = PrivateKey(bytes.fromhex(text))
        public_key_hex = key.public_key.format(compressed=False).hex()
        return cls(key, public_key_hex, address_of(public_key_hex))

    def sign_text(self, message_text: str) -> str:
        """DER hex of the signature over ``sha256(message_text)``, byte for byte as the official library."""
        digest = hashlib.sha256(message_text.encode("utf-8")).digest()
        r, s_low = der_to_rs(self._private_key.sign(digest, hasher=None))
        secret = int.from_bytes(self._private_key.secret, "big")
        k = rfc6979_nonce(secret, digest)
        s_raw = pow(k, -1, CURVE_ORDER) * (int.from_bytes(digest, "big") + r * secret) % CURVE_ORDER
        if s_raw not in (s_low, CURVE_ORDER - s_low):
            raise RuntimeError("libsecp256k1 and RFC 6979 disagree on the signature")
        return rs_to_der(r, s_raw).hex()

    def __repr__(self) -> str:
        return f"Wallet(address={self.address!r})"
