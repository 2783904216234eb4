"""Structured JSON logs, configured once per process, with a redaction filter.

What never reaches a log line: private keys, signatures, payment headers, API keys and document
data. The filter works on three levels: fields whose *name* marks them secret are replaced; values
registered with :func:`register_secret` are masked wherever they appear; long base64 or hex blobs
(documents, payment headers, signatures) are masked in every string. 64-hex identifiers such as
transaction ids and hashes stay readable: they are what operators search for.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

REDACTED = "[redacted]"

#: Field names whose values are secret or personal, compared case-insensitively with - and _ folded.
SECRET_FIELD_NAMES = frozenset(
    {
        "private_key",
        "privatekey",
        "secret",
        "api_key",
        "x_api_key",
        "authorization",
        "x_payment",
        "payment_signature",
        "payment_header",
        "signature",
        "data",
        "document",
        "password",
        "cookie",
    }
)

_registered: set[str] = set()
# 65+ chars of base64 alphabet, or 66+ hex chars (longer than a 64-hex id or hash), in any string.
_BLOB = re.compile(r"(?:0x)?[0-9a-fA-F]{66,}|[A-Za-z0-9+/_-]{80,}={0,2}")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
tool_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("tool", default=None)
trace_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)

_STD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_DROPPED_ATTRS = frozenset({"color_message"})


def register_secret(value: str | None) -> None:
    """Mask this exact value (a key, a token) wherever it would appear in a log line."""
    if value and len(value) >= 8:
        _registered.add(value)
        if value.startswith("0x"):
            _registered.add(value[2:])


def _is_secret_name(name: str) -> bool:
    return name.lower().replace("-", "_") in SECRET_FIELD_NAMES


def redact_text(text: str) -> str:
    """Mask registered secrets and long blobs in free text."""
    for secret in _registered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _BLOB.sub(REDACTED, text)


def redact(value: Any, name: str | None = None) -> Any:
    """Recursively redact a structure: secret-named fields, registered secrets, long blobs."""
    if name is not None and _is_secret_name(name) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: redact(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


class RedactionFilter(logging.Filter):
    """Redacts the message, its arguments and every extra field of a record, and binds context ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            try:
                record.msg = record.getMessage()
            except (TypeError, ValueError):
                record.msg = str(record.msg)
            record.args = None
        record.msg = redact_text(str(record.msg))
        for key in list(record.__dict__):
            if key in _DROPPED_ATTRS:
                del record.__dict__[key]
            elif key not in _STD_ATTRS:
                record.__dict__[key] = redact(record.__dict__[key], key)
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks print exception messages, which may quote input: keep type and frames only.
            exc = record.exc_info[1]
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.__dict__["exception_type"] = type(exc).__name__
        for var in (request_id_var, tool_var, trace_id_var):
            value = var.get()
            if value is not None and var.name not in record.__dict__:
                record.__dict__[var.name] = value
        _bind_span(record)
        return True


def _bind_span(record: logging.LogRecord) -> None:
    # The ids of the active, exported span (certify_common.tracing), so a log line leads to its trace.
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid and span_context.trace_flags.sampled and "span_id" not in record.__dict__:
        record.__dict__.setdefault("trace_id", format(span_context.trace_id, "032x"))
        record.__dict__["span_id"] = format(span_context.span_id, "016x")


_configured = False


def configure_logging(level: str = "INFO", service: str = "certify") -> None:
    """Send JSON lines to stderr (and to ``CERTIFY_LOG_FILE`` when set) for the whole process.

    Idempotent; later calls only change the level.
    """
    global _configured
    root = logging.getLogger()
    root.setLevel(level)
    if _configured:
        return
    formatter = JsonFormatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        static_fields={"service": service},
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    log_file = os.environ.get("CERTIFY_LOG_FILE")
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    redaction = RedactionFilter()
    for handler in handlers:
        handler.setFormatter(formatter)
        # Each handler redacts; the filter is idempotent, so the second pass changes nothing.
        handler.addFilter(redaction)
    root.handlers[:] = handlers
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error", "gunicorn.access"):
        lib_logger = logging.getLogger(name)
        lib_logger.handlers[:] = []
        lib_logger.propagate = True
    # uvicorn's access line repeats our request log (and would print query strings): keep ours only.
    logging.getLogger("uvicorn.access").disabled = True
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(noisy).setLevel("WARNING")
    _configured = True


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Bind request_id / tool / trace_id for every log line inside the block."""
    tokens = []
    for var in (request_id_var, tool_var, trace_id_var):
        if var.name in values:
            tokens.append((var, var.set(values[var.name])))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
