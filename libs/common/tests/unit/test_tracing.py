"""Traces: off without an endpoint, exported over OTLP/HTTP with it, redacted, linked, and in the logs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind

from certify_common.logs import REDACTED, RedactionFilter, register_secret
from certify_common.tracing import build_provider, current_trace_context, linked_root_span, untraced
from certify_testkit.otlp import Collector
from certify_testkit.processes import wait_until

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_SAMPLER",
)


@pytest.fixture
def otel_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_an_endpoint_no_provider_is_installed_and_no_app_is_instrumented() -> None:
    script = """
import json, os
for name in [n for n in os.environ if n.startswith("OTEL_")]:
    del os.environ[name]
os.environ["OTEL_SERVICE_NAME"] = "anything"
from opentelemetry import trace
from certify_common.mcp_service import create_service, new_mcp_server
from certify_common.settings import ServiceSettings
from certify_common.tracing import configure_tracing, tracing_enabled
enabled = configure_tracing("quote")
app = create_service(ServiceSettings(), new_mcp_server("t", "t"))
span = trace.get_tracer("t").start_span("s")
print(json.dumps({
    "enabled": enabled or tracing_enabled(),
    "provider": type(trace.get_tracer_provider()).__name__,
    "recording": span.is_recording(),
    "middleware": [m.cls.__name__ for m in app.user_middleware],
}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {
        "enabled": False,
        "provider": "ProxyTracerProvider",
        "recording": False,
        "middleware": ["RequestLoggingMiddleware"],
    }


def test_spans_reach_an_otlp_http_collector_as_the_service_with_secrets_redacted(otel_env: pytest.MonkeyPatch) -> None:
    secret = "sk_live_" + "q7" * 12
    register_secret(secret)
    blob = "eyJ4NDAy" * 20
    with Collector() as collector:
        otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        otel_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        provider = build_provider("quote")
        assert provider is not None
        tracer = provider.get_tracer("test")
        attributes = {
            "http.request.header.x-payment": (blob,),
            "http.target": f"/pay/r1?token=tok-{secret}&format=png&sig=abc",
            "url.full": "http://127.0.0.1:1/nag/NAG.php?cep=GetWalletNonce_",
            "note": f"key {secret}",
            "http.route": "/pay/{request_id}",
        }
        with tracer.start_as_current_span("exported", attributes=attributes) as span:
            span.add_event("exception", {"exception.message": f"bad document {blob}"})
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"failed with {secret}"))
        with untraced():
            tracer.start_span("probe").end()
        assert provider.force_flush()
        wait_until(lambda: collector.snapshot(), 10, what="the exported span")
        provider.shutdown()
    (received,) = collector.snapshot()
    assert received.service == "certify-quote"
    assert received.name == "exported"
    assert received.attributes == {
        "http.request.header.x-payment": [REDACTED],
        "http.target": f"/pay/r1?token={REDACTED}&format=png&sig={REDACTED}",
        "url.full": "http://127.0.0.1:1/nag/NAG.php?cep=GetWalletNonce_",
        "note": f"key {REDACTED}",
        "http.route": "/pay/{request_id}",
    }
    assert received.events == (("exception", {"exception.message": f"bad document {REDACTED}"}),)
    assert received.status_message == f"failed with {REDACTED}"


def test_otel_service_name_overrides_the_default_service_name(otel_env: pytest.MonkeyPatch) -> None:
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    default = build_provider("x402")
    otel_env.setenv("OTEL_SERVICE_NAME", "payments-edge")
    named = build_provider("x402")
    assert default is not None
    assert named is not None
    assert default.resource.attributes["service.name"] == "certify-x402"
    assert named.resource.attributes["service.name"] == "payments-edge"
    default.shutdown()
    named.shutdown()


@pytest.mark.parametrize(
    ("variable", "value"), [("OTEL_SDK_DISABLED", "true"), ("OTEL_TRACES_EXPORTER", "none")], ids=["disabled", "none"]
)
def test_the_standard_switches_turn_traces_off_despite_an_endpoint(
    otel_env: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    otel_env.setenv(variable, value)
    assert build_provider("qr") is None


def test_a_protocol_other_than_http_protobuf_is_refused_at_start(otel_env: pytest.MonkeyPatch) -> None:
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    otel_env.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ValueError, match="http/protobuf"):
        build_provider("proxy")


def _record() -> logging.LogRecord:
    record = logging.getLogger("t").makeRecord("t", logging.INFO, __file__, 1, "hello", None, None)
    assert RedactionFilter().filter(record)
    return record


def test_log_records_carry_the_active_span_ids_and_none_outside_a_span() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("request") as span:
        inside = _record()
    context = span.get_span_context()
    assert inside.__dict__["trace_id"] == format(context.trace_id, "032x")
    assert inside.__dict__["span_id"] == format(context.span_id, "016x")
    outside = _record()
    assert "trace_id" not in outside.__dict__
    assert "span_id" not in outside.__dict__


def _finished(exporter: InMemorySpanExporter) -> Sequence[ReadableSpan]:
    return exporter.get_finished_spans()


def test_durable_work_starts_a_new_trace_linked_to_the_request_that_enqueued_it(spans: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("POST /v1/certify") as request:
        stored = current_trace_context()
    assert stored is not None
    with (
        tracer.start_as_current_span("unrelated ambient span"),
        linked_root_span("job certify", stored, {"certify.job.kind": "certify"}),
    ):
        tracer.start_span("work").end()
    job = next(span for span in _finished(spans) if span.name == "job certify")
    work = next(span for span in _finished(spans) if span.name == "work")
    assert job.parent is None
    assert job.kind == SpanKind.CONSUMER
    assert job.context is not None
    assert job.context.trace_id != request.get_span_context().trace_id
    linked = request.get_span_context()
    assert [(link.context.trace_id, link.context.span_id) for link in job.links] == [(linked.trace_id, linked.span_id)]
    assert work.parent is not None
    assert work.parent.span_id == job.context.span_id


def test_a_job_claimed_by_an_untraced_poller_is_traced_with_everything_below_it(
    spans: InMemorySpanExporter,
) -> None:
    tracer = trace.get_tracer("test")
    with untraced():
        tracer.start_span("claim poll").end()
        with linked_root_span("job certify", None, {}):
            tracer.start_span("tools/call certify_data").end()
    assert sorted(span.name for span in _finished(spans)) == ["job certify", "tools/call certify_data"]


def test_a_job_without_a_stored_context_still_gets_its_own_unlinked_trace(spans: InMemorySpanExporter) -> None:
    assert current_trace_context() is None
    for stored in (None, "not json", '{"traceparent": "garbage"}'):
        with linked_root_span("job webhook", stored, {}):
            pass
    assert [list(span.links) for span in _finished(spans)] == [[], [], []]


def test_untraced_blocks_record_nothing_even_below_a_traced_span(otel_env: pytest.MonkeyPatch) -> None:
    otel_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    provider = build_provider("proxy")
    assert provider is not None
    tracer = provider.get_tracer("test")
    with untraced():
        probe = tracer.start_span("readiness ping")
    token = otel_context.attach(otel_context.Context())
    try:
        traced = tracer.start_span("request", links=[Link(probe.get_span_context())])
    finally:
        otel_context.detach(token)
    assert not probe.is_recording()
    assert traced.is_recording()
    provider.shutdown()
