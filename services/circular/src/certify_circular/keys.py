"""The service wallet's key: secp256k1 with coincurve, signing exactly as the official library does.

The official Python library signs ``sha256(ID text)`` with python-ecdsa and an RFC 6979 nonce and
does *not* normalise ``s`` to the low half of the curve order, while libsecp256k1 always does. Both
signatures are valid; only the un-normalised one reproduces the official bytes, so after signing
with coincurve we recompute the RFC 6979 nonce ``k`` and put ``s`` back on the side the official library
would have produced: the raw ``s`` is the one with ``k·s ≡ z + r·d (mod n)`` (two multiplications, no
modular inverse).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from coincurve import PrivateKey, PublicKey
from coincurve.ecdsa import cdata_to_der, der_to_cdata, deserialize_compact, serialize_compact

#: Order of the secp256k1 group.
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ORDER_BYTES = CURVE_ORDER.to_bytes(32, "big")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX130 = re.compile(r"^04[0-9a-f]{128}$")


class InvalidKeyError(ValueError):
    """A private key, public key or signature that cannot be used."""


def strip_0x(value: str) -> str:
    """The hex text without a leading ``0x`` (the official library's ``hex_fix`` for a prefix)."""
    return value[2:] if value[:2] in ("0x", "0X") else value


_INNER = bytes(byte ^ 0x36 for byte in range(256))
_OUTER = bytes(byte ^ 0x5C for byte in range(256))


def _hmac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 with a 32-byte key (RFC 2104 spelled out: a third cheaper than ``hmac.digest`` here)."""
    inner = hashlib.sha256(key.translate(_INNER) + b"\x36" * 32 + message).digest()
    return hashlib.sha256(key.translate(_OUTER) + b"\x5c" * 32 + inner).digest()


#: The first HMAC's key is all zeros: its padded inner and outer blocks are constants.
_ZERO_KEY_INNER = b"\x36" * 64
_ZERO_KEY_OUTER = hashlib.sha256(b"\x5c" * 64)
_V0 = b"\x01" * 32


class _Nonces:
    """RFC 6979 (HMAC-SHA256) for one 32-byte secret ``x`` and 32-byte digests (qlen = hlen = 256).

    The first HMAC hashes ``ipad(0) || V || 0x00 || x`` before the digest: that prefix is hashed once per secret
    and its state copied for each digest (a wallet signs many digests with one secret)."""

    def __init__(self, x: bytes) -> None:
        self.x = x
        self._first = hashlib.sha256(_ZERO_KEY_INNER + _V0 + b"\x00" + x)

    def nonce(self, digest: bytes) -> int:
        # bits2octets: the digest as an integer reduced mod n; equal-length bytes compare as numbers.
        h = digest if digest < _ORDER_BYTES else (int.from_bytes(digest, "big") - CURVE_ORDER).to_bytes(32, "big")
        inner = self._first.copy()
        inner.update(h)
        outer = _ZERO_KEY_OUTER.copy()
        outer.update(inner.digest())
        k = outer.digest()
        v = _hmac(k, _V0)
        k = _hmac(k, v + b"\x01" + self.x + h)
        v = _hmac(k, v)
        for _ in range(64):  # a candidate is out of range with probability ~2^-128
            v = _hmac(k, v)
            candidate = int.from_bytes(v, "big")
            if 1 <= candidate < CURVE_ORDER:
                return candidate
            k = _hmac(k, v + b"\x00")  # pragma: no cover - needs a candidate >= n (probability ~2^-128)
            v = _hmac(k, v)  # pragma: no cover
        raise RuntimeError("RFC 6979 produced no nonce")  # pragma: no cover - unreachable in practice


def rfc6979_nonce(secret: int, digest: bytes) -> int:
    """The deterministic ECDSA nonce of RFC 6979 (HMAC-SHA256) for a 32-byte digest."""
    return _Nonces(secret.to_bytes(32, "big")).nonce(digest)


#: DER's INTEGER tag with each length a 32-byte scalar can take (1 to 33 bytes).
_INTEGER = [b"\x02" + bytes((length,)) for length in range(34)]
_SEQUENCE = [b"\x30" + bytes((length,)) for length in range(71)]


def _der_integer(value: bytes) -> bytes:
    stripped = value.lstrip(b"\x00") or b"\x00"
    if stripped[0] & 0x80:
        stripped = b"\x00" + stripped
    return _INTEGER[len(stripped)] + stripped


def compact_to_der(r: bytes, s: bytes) -> bytes:
    """DER of two 32-byte big-endian integers (what python-ecdsa's ``sigencode_der`` writes).

    Written out rather than through coincurve because libsecp256k1 refuses to serialise a high ``s``
    without a parse/serialise round trip that costs more than the signature's own arithmetic.
    """
    body = _der_integer(r) + _der_integer(s)
    return _SEQUENCE[len(body)] + body


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
    _secret: int = field(repr=False, compare=False)
    _nonces: _Nonces = field(repr=False, compare=False)

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
        return cls(key, public_key_hex, address_of(public_key_hex), secret, _Nonces(secret.to_bytes(32, "big")))

    def sign_text(self, message_text: str) -> str:
        """DER hex of the signature over ``sha256(message_text)``, byte for byte as the official library."""
        digest = hashlib.sha256(message_text.encode("utf-8")).digest()
        compact = self._private_key.sign_recoverable(digest, hasher=None)
        r, s_low = int.from_bytes(compact[:32], "big"), int.from_bytes(compact[32:64], "big")
        secret = self._secret
        k = self._nonces.nonce(digest)
        e = (int.from_bytes(digest, "big") + r * secret) % CURVE_ORDER
        ks = k * s_low % CURVE_ORDER
        if ks == e:
            s_raw = compact[32:64]
        elif ks + e == CURVE_ORDER:
            s_raw = (CURVE_ORDER - s_low).to_bytes(32, "big")
        else:
            raise RuntimeError("libsecp256k1 and RFC 6979 disagree on the signature")
        return compact_to_der(compact[:32], s_raw).hex()

    def __repr__(self) -> str:
        return f"Wallet(address={self.address!r})"
