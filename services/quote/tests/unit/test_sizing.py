"""check_data_size measures decoded bytes, detects encodings by a documented rule, and refuses oversized input."""

import base64
import hashlib

import pytest

from certify_common.errors import Failure
from certify_quote.sizing import DataSize, check_data_size, detect_encoding, human_size

MAX = 10 * 1024 * 1024


async def measure(data: str, encoding: str = "auto", max_bytes: int = MAX) -> DataSize:
    result = await check_data_size(data, encoding, max_bytes)  # type: ignore[arg-type]
    assert isinstance(result, DataSize), result
    return result


async def refused(data: str, encoding: str = "auto", max_bytes: int = MAX) -> Failure:
    result = await check_data_size(data, encoding, max_bytes)  # type: ignore[arg-type]
    assert isinstance(result, Failure), result
    return result


async def test_deadbeef_is_read_as_hex_because_even_length_all_hex_is_likely_a_digest() -> None:
    # "deadbeef" is also valid base64 (6 bytes); the rule gives hex precedence.
    assert base64.b64decode("deadbeef", validate=True)
    result = await measure("deadbeef")
    assert result == DataSize(
        size_bytes=4,
        size_kb=0.0,
        size_human="4 B",
        encoding="hex",
        sha256=hashlib.sha256(bytes.fromhex("deadbeef")).hexdigest(),
    )


async def test_deadbeef_stated_as_base64_is_decoded_as_base64() -> None:
    result = await measure("deadbeef", "base64")
    assert (result.size_bytes, result.encoding) == (6, "base64")
    assert result.sha256 == hashlib.sha256(base64.b64decode("deadbeef")).hexdigest()


@pytest.mark.parametrize(
    ("data", "encoding", "size"),
    [
        ("0xDEADBEEF", "hex", 4),
        ("  cafe\n", "hex", 2),
        ("aGVsbG8gd29ybGQ=", "base64", 11),  # "hello world"
        ("-_-_", "base64", 3),  # URL-safe alphabet
        ("aGVs\nbG8=", "base64", 5),  # MIME line break
        ("abc", "text", 3),  # odd length: not hex, not base64
        ("hello world", "text", 11),
        ("héllo", "text", 6),  # UTF-8 bytes, not characters
        ("", "text", 0),
    ],
)
async def test_auto_detection_follows_hex_then_base64_then_text(data: str, encoding: str, size: int) -> None:
    assert detect_encoding(data) == encoding
    result = await measure(data)
    assert (result.encoding, result.size_bytes) == (encoding, size)


async def test_an_explicit_base64_may_omit_padding() -> None:
    assert (await measure("aGVsbG8", "base64")).size_bytes == 5


@pytest.mark.parametrize(("data", "encoding"), [("xyz1", "hex"), ("abc", "hex"), ("a", "base64"), ("ab$d", "base64")])
async def test_data_not_in_the_stated_encoding_is_an_invalid_encoding_failure(data: str, encoding: str) -> None:
    result = await refused(data, encoding)
    assert (result.code, result.retryable, result.details) == ("invalid_encoding", False, {"encoding": encoding})


async def test_exactly_10_mb_is_accepted() -> None:
    raw = b"\x00" * MAX
    result = await measure(base64.b64encode(raw).decode(), "base64")
    assert (result.size_bytes, result.size_human) == (MAX, "10.0 MB")
    assert result.sha256 == hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize("encoding", ["base64", "hex", "text", "auto"])
async def test_10_mb_plus_one_byte_is_a_data_too_large_failure(encoding: str) -> None:
    raw = b"a" * (MAX + 1)
    data = {"base64": base64.b64encode(raw).decode(), "hex": raw.hex(), "text": raw.decode()}.get(encoding, raw.hex())
    result = await refused(data, encoding)
    assert result.code == "data_too_large"
    assert result.details == {"size_bytes": MAX + 1, "max_bytes": MAX}


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (1024 * 1024, "1.0 MB"), (MAX, "10.0 MB")]
)
def test_human_sizes_use_1024_based_units(size: int, text: str) -> None:
    assert human_size(size) == text


async def test_size_kb_has_two_decimals() -> None:
    assert (await measure("a" * 1500, "text")).size_kb == 1.46
