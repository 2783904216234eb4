"""What is being certified: the document's SHA-256 and size, from base64 data or a given hash."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from certify_common.errors import Failure, failure

#: Base64 documents up to this long are decoded and hashed inline (tens of microseconds); larger ones in a
#: thread, so a 10 MB upload does not hold the event loop.
INLINE_HASH_CHARS = 64 * 1024

# Used with fullmatch only: ``$`` would admit a trailing newline.
_HASH = re.compile(r"(0x)?[0-9a-fA-F]{64}")
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f-\x9f]")


@dataclass(frozen=True)
class Document:
    """A document's fingerprint: ``data_hash`` is 0x + 64 lower-case hex."""

    data_hash: str
    size_bytes: int


def decode_base64(data: str, max_bytes: int) -> bytes | Failure:
    """Strict base64 (standard or URL-safe alphabet) no longer than ``max_bytes`` once decoded."""
    compact = "".join(data.split())
    if len(compact) * 3 // 4 > max_bytes + 3:
        return failure("data_too_large", f"data exceeds {max_bytes} bytes", max_bytes=max_bytes)
    if not compact:
        return failure("invalid_base64", "data is empty")
    alphabet_fixed = compact.replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(alphabet_fixed + "=" * (-len(alphabet_fixed) % 4), validate=True)
    except (binascii.Error, ValueError):
        return failure("invalid_base64", "data is not valid base64")
    if len(decoded) > max_bytes:
        return failure("data_too_large", f"data exceeds {max_bytes} bytes", max_bytes=max_bytes)
    return decoded


def normalise_hash(value: str) -> str | Failure:
    """0x + 64 lower-case hex, or ``invalid_data_hash``."""
    if _HASH.fullmatch(value) is None:
        return failure("invalid_data_hash", "data_hash must be 64 hex digits (SHA-256), 0x optional")
    return "0x" + value.lower().removeprefix("0x")


def document_of(data: str | None, data_hash: str | None, size: int | None, max_bytes: int) -> Document | Failure:
    """Exactly one of ``data`` / ``data_hash``; the hash is computed from the data when given."""
    if (data is None) == (data_hash is None):
        return failure(
            "invalid_request", "send exactly one of data (base64) or data_hash", fields=["data", "data_hash"]
        )
    if data is not None:
        decoded = decode_base64(data, max_bytes)
        if isinstance(decoded, Failure):
            return decoded
        return Document("0x" + hashlib.sha256(decoded).hexdigest(), len(decoded))
    normalised = normalise_hash(data_hash or "")
    if isinstance(normalised, Failure):
        return normalised
    if size is not None and size > max_bytes:
        return failure("data_too_large", f"data_size_bytes exceeds {max_bytes}", max_bytes=max_bytes)
    return Document(normalised, size or 0)


async def document_of_body(
    data: str | None, data_hash: str | None, size: int | None, max_bytes: int
) -> Document | Failure:
    """:func:`document_of`, off the event loop for large documents only (a thread hop costs more than a small hash)."""
    if data is not None and len(data) > INLINE_HASH_CHARS:
        return await asyncio.to_thread(document_of, data, data_hash, size, max_bytes)
    return document_of(data, data_hash, size, max_bytes)


def check_callback_url(url: str, allow_http: bool) -> Failure | None:
    """``callback_url`` must be absolute HTTPS (plain HTTP only outside production, for local receivers)."""
    if _CONTROL_OR_SPACE.search(url) is not None:
        return failure("invalid_callback_url", "callback_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError:
        return failure("invalid_callback_url", "callback_url is not a valid URL")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return failure("invalid_callback_url", "callback_url must be an absolute https:// URL")
    if parts.scheme == "http" and not allow_http:
        return failure("invalid_callback_url", "callback_url must use https://")
    if parts.username or parts.password:
        return failure("invalid_callback_url", "callback_url must not carry credentials")
    return None
