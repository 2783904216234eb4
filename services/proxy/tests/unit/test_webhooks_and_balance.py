"""Webhook signatures checked by an independent HMAC, and the CIRX burn-rate arithmetic."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from certify_proxy.tasks.balance import daily_burn
from certify_proxy.tasks.webhook import signature


def _rfc2104_hmac_sha256(key: bytes, message: bytes) -> str:
    """HMAC written out from RFC 2104, independent of the hmac module the proxy uses."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).hexdigest()


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"event":"certification.completed"}'
    assert signature("s3cret", "1763780000", body) == "sha256=" + _rfc2104_hmac_sha256(b"s3cret", b"1763780000." + body)
    assert signature("s3cret", "1763780001", body) != signature("s3cret", "1763780000", body)


def test_the_daily_burn_counts_only_decreases_scaled_to_a_day() -> None:
    hour = 3600.0
    readings = [(0.0, Decimal(100)), (hour, Decimal(96)), (2 * hour, Decimal(500)), (3 * hour, Decimal(492))]
    assert daily_burn(readings) == Decimal(12) * Decimal(24) / Decimal(3)
    assert daily_burn(readings[:1]) is None
    assert daily_burn([(0.0, Decimal(5)), (0.0, Decimal(4))]) is None
