"""OpenTelemetry traces, configured once per process from the standard ``OTEL_*`` variables only.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) set, every service
exports its spans over OTLP/HTTP (protobuf) in batches (``OTEL_BSP_*``), sampled as
``OTEL_TRACES_SAMPLER`` says, with ``service.name`` = ``certify-<service>`` unless
``OTEL_SERVICE_NAME`` / ``OTEL_RESOURCE_ATTRIBUTES`` name it: one environment serves the whole stack.
Without it nothing is installed: no provider, no exporter, no instrumentation middleware.

What leaves the process is redacted like the logs (:mod:`certify_common.logs`): secret-named
attributes (payment headers, keys), registered secrets, long blobs (documents, signatures), and every
query-string value but a few known-harmless ones (public-link tokens travel there). MCP tool arguments
are never recorded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, _get_from_env_or_default
from opentelemetry.trace import Link, SpanKind, Status
from opentelemetry.util.types import Attributes

from certify_common.logs import REDACTED, redact, redact_text

logger = logging.getLogger("certify.tracing")

#: URLs that never get an HTTP server span (probes and scrapes), as the instrumentation's regexes.
EXCLUDED_URLS = "/healthz$,/readyz$,/health$,/metrics$"
#: Attributes holding URLs or their parts: query values are masked, except those of the parameters below.
_URL_ATTRIBUTES = frozenset({"http.url", "url.full", "http.target"})
#: Query parameters whose values say what was called and carry nothing secret (NAG method, CoinGecko, QR).
SAFE_QUERY_PARAMETERS = frozenset({"cep", "ids", "vs_currencies", "format", "size", "limit", "include_requeued"})
_UNTRACED = otel_context.create_key("certify-untraced")

_enabled = False


def _configured_endpoint() -> str | None:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")


def _resource(service: str) -> Resource:
    detected = Resource.create()
    if os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        return detected
    return detected.merge(Resource({"service.name": f"certify-{service}"}))


class UntracedAwareSampler(Sampler):
    """The sampler of ``OTEL_TRACES_SAMPLER``, except that nothing is sampled inside :func:`untraced`."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if otel_context.get_value(_UNTRACED, parent_context):
            return SamplingResult(Decision.DROP)
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"UntracedAware{{{self.inner.get_description()}}}"


def _scrub_url(value: str) -> str:
    parts = urlsplit(value)
    if not parts.query:
        return value
    query = "&".join(
        f"{name}={quote(value) if name in SAFE_QUERY_PARAMETERS else REDACTED}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit(parts._replace(query=query))


def _scrub_value(key: str, value: Any) -> Any:
    if key == "url.query" and isinstance(value, str):
        return _scrub_url("?" + value)[1:]
    if key in _URL_ATTRIBUTES and isinstance(value, str):
        value = _scrub_url(value)
    if isinstance(value, tuple | list):
        return tuple(_scrub_value(key, item) for item in value)
    return redact(value, key.rsplit(".", 1)[-1])


def scrub_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Span attributes as they may leave the process (see the module docstring)."""
    return {key: _scrub_value(key, value) for key, value in (attributes or {}).items()}


class RedactingExporter(SpanExporter):
    """Hands the spans to ``inner`` with attributes, event attributes and status messages redacted."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    @staticmethod
    def redacted(span: ReadableSpan) -> ReadableSpan:
        """A copy of ``span`` that carries nothing secret."""
        status = span.status
        if status.description:
            status = Status(status.status_code, redact_text(status.description))
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=scrub_attributes(span.attributes),
            events=[Event(event.name, scrub_attributes(event.attributes), event.timestamp) for event in span.events],
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([self.redacted(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def build_provider(service: str) -> TracerProvider | None:
    """The provider the ``OTEL_*`` environment asks for, or None when traces are off (not installed)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if not _configured_endpoint() or os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return None
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    )
    if protocol.strip() not in ("", "http/protobuf"):
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: certify exports http/protobuf")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=_resource(service), sampler=UntracedAwareSampler(_get_from_env_or_default()))
    provider.add_span_processor(BatchSpanProcessor(RedactingExporter(OTLPSpanExporter())))
    return provider


def configure_tracing(service: str) -> bool:
    """Install tracing for this process if the environment asks for it; True when traces are exported.

    Call from the app factory (never at import). Idempotent: the first call decides. Besides the
    provider it instruments outgoing httpx and Redis calls; :func:`instrument_app` adds HTTP server spans.
    """
    global _enabled
    if _enabled:
        return True
    provider = build_provider(service)
    if provider is None:
        return False
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    HTTPXClientInstrumentor().instrument()
    RedisInstrumentor().instrument()
    _enabled = True
    logger.info("exporting traces", extra={"endpoint": _scrub_url(_configured_endpoint() or "")})
    return True


def tracing_enabled() -> bool:
    """True once :func:`configure_tracing` installed an exporter in this process."""
    return _enabled


def instrument_app(app: FastAPI) -> None:
    """HTTP server spans for ``app`` (not for probes and /metrics), when tracing is on."""
    if not _enabled:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"])


@contextmanager
def untraced() -> Iterator[None]:
    """Record no span inside the block (probes, idle polling), even below an instrumented library."""
    token = otel_context.attach(otel_context.set_value(_UNTRACED, True))
    try:
        yield
    finally:
        otel_context.detach(token)


def current_trace_context() -> str | None:
    """The active span's W3C context (``traceparent``, ``tracestate``) as JSON, or None without a sampled span.

    Stored with durable work so the span that later runs it can link back to the request that asked.
    """
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid or not span_context.trace_flags.sampled:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return json.dumps(carrier, separators=(",", ":"), sort_keys=True) if carrier else None


def _link(stored: str | None) -> list[Link]:
    if not stored:
        return []
    try:
        carrier = json.loads(stored)
    except ValueError:
        return []
    if not isinstance(carrier, dict):
        return []
    linked = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    return [Link(linked)] if linked.is_valid else []


@contextmanager
def linked_root_span(name: str, stored: str | None, attributes: Mapping[str, str | int]) -> Iterator[trace.Span]:
    """A new trace for one run of durable work, linked to the span that enqueued it (``stored``)."""
    tracer = trace.get_tracer("certify.jobs")
    # A fresh context: neither the caller's span nor its untraced() mark (idle polling) reaches the job.
    token = otel_context.attach(otel_context.Context())
    try:
        with tracer.start_as_current_span(
            name, kind=SpanKind.CONSUMER, links=_link(stored), attributes=dict(attributes)
        ) as span:
            yield span
    finally:
        otel_context.detach(token)
