"""Documents: strict base64, the 10 MB limit, hash normalisation, callback URLs."""

from __future__ import annotations

import base64
import hashlib

import pytest

from certify_common.errors import Failure
from certify_proxy.certification.documents import Document, check_callback_url, document_of


def test_data_is_hashed_and_measured() -> None:
    data = b"hello certify"
    assert document_of(base64.b64encode(data).decode(), None, None, 100) == Document(
        "0x" + hashlib.sha256(data).hexdigest(), len(data)
    )


def test_url_safe_base64_without_padding_is_accepted() -> None:
    data = b"\xfb\xff\xfe?"
    encoded = base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert document_of(encoded, None, None, 100) == Document("0x" + hashlib.sha256(data).hexdigest(), 4)


@pytest.mark.parametrize(
    ("data", "data_hash", "size", "code"),
    [
        (None, None, None, "invalid_request"),
        ("aGk=", "ab" * 32, None, "invalid_request"),
        ("not base64 at all!", None, None, "invalid_base64"),
        ("", None, None, "invalid_base64"),
        (base64.b64encode(b"x" * 101).decode(), None, None, "data_too_large"),
        (None, "0x1234", None, "invalid_data_hash"),
        (None, "zz" * 32, None, "invalid_data_hash"),
        (None, "ab" * 32, 101, "data_too_large"),
    ],
)
def test_bad_documents_are_coded_failures(data: str | None, data_hash: str | None, size: int | None, code: str) -> None:
    result = document_of(data, data_hash, size, 100)
    assert isinstance(result, Failure)
    assert result.code == code


def test_the_limit_is_inclusive() -> None:
    assert isinstance(document_of(base64.b64encode(b"x" * 100).decode(), None, None, 100), Document)


def test_a_hash_is_normalised_to_0x_lower_case() -> None:
    assert document_of(None, "AB" * 32, 10, 100) == Document("0x" + "ab" * 32, 10)


@pytest.mark.parametrize(
    ("url", "allow_http", "ok"),
    [
        ("https://hooks.example.com/certify", False, True),
        ("http://hooks.example.com/certify", False, False),
        ("http://127.0.0.1:9000/hook", True, True),
        ("ftp://example.com/x", True, False),
        ("https://user:pw@example.com/x", False, False),
        ("/relative", False, False),
    ],
)
def test_callback_urls_must_be_https_outside_development(url: str, allow_http: bool, ok: bool) -> None:
    assert (check_callback_url(url, allow_http) is None) is ok
