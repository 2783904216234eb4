"""How many bytes a document has once decoded, and its SHA-256.

Auto-detection, in order (the first rule that matches wins):

1. **hex** — a non-empty, even-length string of hex digits (``0x`` prefix allowed). ``"deadbeef"`` is
   valid hex *and* valid base64; hex wins because an even-length all-hex string is far more likely a
   digest or a hex dump than base64: random base64 of 8 characters uses only hex digits with
   probability (22/64)^8 ≈ 0.02 %, falling fast with length.
2. **base64** — canonical padded base64 (standard or URL-safe alphabet, length a multiple of 4,
   line breaks ignored).
3. **text** — anything else, measured as its UTF-8 bytes.

Surrounding whitespace is ignored for hex and base64. Callers that know the encoding should say
so; an explicit ``base64`` also accepts missing padding.
Sizes are checked against the limit *before* decoding, so an oversized input costs no decode.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from typing import Literal

from pydantic import BaseModel, Field

from certify_common.errors import Failure, failure, require

Encoding = Literal["base64", "hex", "text"]
RequestedEncoding = Literal["base64", "hex", "text", "auto"]

_HEX_DIGITS = re.compile(r"[0-9a-fA-F]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}|[A-Za-z0-9_-]*={0,2}")
_LINE_BREAKS = re.compile(r"[\r\n]")
#: Inputs above this many characters are decoded and hashed in a worker thread.
_THREAD_THRESHOLD_CHARS = 256 * 1024


class DataSize(BaseModel):
    """The size and digest of a decoded document."""

    size_bytes: int = Field(description="Decoded size in bytes.")
    size_kb: float = Field(description="Decoded size in KB (1 KB = 1024 bytes), two decimals.")
    size_human: str = Field(description="Readable size: `B`, `KB` or `MB` (1024-based), e.g. `1.5 KB`.")
    encoding: Encoding = Field(description="The encoding the input was decoded with (the detected one for `auto`).")
    sha256: str = Field(description="SHA-256 of the decoded bytes, 64 lowercase hex digits.")


def _hex_digits(text: str) -> str | None:
    """The digits of a hex string (``0x`` prefix dropped), or None when it is not even-length hex."""
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    return digits if len(digits) % 2 == 0 and _HEX_DIGITS.fullmatch(digits) else None


def detect_encoding(data: str) -> Encoding:
    """The encoding ``auto`` picks for ``data`` (see the module docstring for the rule and why)."""
    text = data.strip()
    if text and _hex_digits(text) is not None:
        return "hex"
    compact = _LINE_BREAKS.sub("", text)
    if compact and len(compact) % 4 == 0 and _BASE64.fullmatch(compact):
        return "base64"
    return "text"


def human_size(size_bytes: int) -> str:
    """``512 B``, ``1.5 KB``, ``10.0 MB`` (1024-based)."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.1f} KB"
    return f"{size_bytes / (1024 * 1024):.1f} MB"


def _base64_text(data: str) -> str | None:
    """The input as padded standard base64, or None when it is not base64 at all."""
    compact = _LINE_BREAKS.sub("", data.strip())
    if not _BASE64.fullmatch(compact) or len(compact.rstrip("=")) % 4 == 1:
        return None
    compact = compact.rstrip("=")
    return compact.replace("-", "+").replace("_", "/") + "=" * (-len(compact) % 4)


def _decoded_length(data: str, encoding: Encoding) -> int | None:
    """Decoded size computed without decoding, or None when the input is not in that encoding."""
    if encoding == "hex":
        digits = _hex_digits(data.strip())
        return None if digits is None else len(digits) // 2
    if encoding == "base64":
        padded = _base64_text(data)
        return None if padded is None else len(padded) // 4 * 3 - padded.count("=")
    return len(data.encode("utf-8", errors="surrogatepass"))


def _decode(data: str, encoding: Encoding) -> bytes:
    if encoding == "hex":
        return bytes.fromhex(require(_hex_digits(data.strip()), "hex digits checked by _decoded_length"))
    if encoding == "base64":
        padded = require(_base64_text(data), "base64 text checked by _decoded_length")
        return base64.b64decode(padded, validate=True)
    return data.encode("utf-8", errors="surrogatepass")


def _measure(data: str, encoding: Encoding) -> DataSize | Failure:
    try:
        raw = _decode(data, encoding)
    except (binascii.Error, ValueError):
        return failure("invalid_encoding", f"the data is not valid {encoding}", encoding=encoding)
    size = len(raw)
    return DataSize(
        size_bytes=size,
        size_kb=round(size / 1024, 2),
        size_human=human_size(size),
        encoding=encoding,
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _check(data: str, requested: RequestedEncoding, max_bytes: int) -> DataSize | Failure:
    encoding: Encoding = detect_encoding(data) if requested == "auto" else requested
    size = _decoded_length(data, encoding)
    if size is None:
        return failure("invalid_encoding", f"the data is not valid {encoding}", encoding=encoding)
    if size > max_bytes:
        return failure(
            "data_too_large",
            f"the document has {size} bytes; at most {max_bytes} are accepted",
            size_bytes=size,
            max_bytes=max_bytes,
        )
    return _measure(data, encoding)


async def check_data_size(data: str, requested: RequestedEncoding, max_bytes: int) -> DataSize | Failure:
    """Decode ``data`` (``auto`` detects the encoding), refuse more than ``max_bytes``, and measure it.

    Large inputs are scanned, decoded and hashed in a worker thread, off the event loop.
    """
    if len(data) > _THREAD_THRESHOLD_CHARS:
        return await asyncio.to_thread(_check, data, requested, max_bytes)
    return _check(data, requested, max_bytes)
