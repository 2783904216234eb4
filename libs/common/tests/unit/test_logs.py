"""The redaction filter keeps secrets, payment headers and document data out of log lines."""

import json
import logging

import pytest

from certify_common.logs import REDACTED, RedactionFilter, bound, redact, register_secret


def _emit(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("t").makeRecord("t", logging.INFO, __file__, 1, message, args, None, extra=extra)
    assert RedactionFilter().filter(record)
    return record


def test_secret_named_fields_are_redacted_whatever_their_case() -> None:
    record = _emit("call", **{"X-Payment": "eyJ4NDAy", "private_key": "ab" * 32, "tx_id": "cd" * 32})
    assert record.__dict__["X-Payment"] == REDACTED
    assert record.__dict__["private_key"] == REDACTED
    assert record.__dict__["tx_id"] == "cd" * 32


def test_registered_secrets_are_masked_inside_messages_and_arguments() -> None:
    register_secret("0x" + "5e" * 32)
    record = _emit("loaded key %s", "5e" * 32)
    assert "5e" * 32 not in record.getMessage()
    assert REDACTED in record.getMessage()


def test_long_blobs_are_masked_but_64_hex_ids_stay_readable() -> None:
    blob = "QUJD" * 40
    tx_id = "ab" * 32
    record = _emit("payload %s for %s", blob, tx_id)
    assert blob not in record.getMessage()
    assert tx_id in record.getMessage()


def test_nested_structures_are_redacted() -> None:
    assert redact({"outer": {"signature": "0xabc", "amount": "10"}}) == {
        "outer": {"signature": REDACTED, "amount": "10"}
    }


def test_exception_messages_do_not_leak_into_tracebacks() -> None:
    secret = "Zm9vYmFy" * 12
    try:
        raise ValueError(secret)
    except ValueError:
        import sys

        record = logging.getLogger("t").makeRecord("t", logging.ERROR, __file__, 1, "boom", None, sys.exc_info())
    assert RedactionFilter().filter(record)
    assert secret not in (record.exc_text or "")
    assert record.__dict__["exception_type"] == "ValueError"


def test_bound_ids_are_attached_to_records() -> None:
    with bound(request_id="req-1", tool="calculate_quote"):
        record = _emit("hello")
    assert (record.__dict__["request_id"], record.__dict__["tool"]) == ("req-1", "calculate_quote")


def test_json_lines_are_written_to_the_configured_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.FileHandler(tmp_path / "out.log")
    handler.setFormatter(JsonFormatter("{message}", style="{"))
    handler.addFilter(RedactionFilter())
    logger = logging.getLogger("certify.test.file")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("api key %s", "x", extra={"api_key": "k-123456789"})
    handler.close()
    line = json.loads((tmp_path / "out.log").read_text().splitlines()[0])
    assert line["api_key"] == REDACTED
