"""A global OpenTelemetry provider that samples only inside tests asking for ``spans``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, Sampler, SamplingResult
from opentelemetry.test.globals_test import reset_trace_globals

from certify_common.tracing import UntracedAwareSampler


class _Switch(Sampler):
    """ALWAYS_ON while a test records spans, DROP otherwise: a global provider cannot be unset, and
    libraries (the mcp SDK) keep the tracer they got, so the rest of the run must see no recording span."""

    on = False

    def should_sample(self, *args: object, **kwargs: object) -> SamplingResult:
        return ALWAYS_ON.should_sample(*args, **kwargs) if self.on else SamplingResult(Decision.DROP)  # type: ignore[arg-type]

    def get_description(self) -> str:
        return "switch"


@pytest.fixture(scope="session")
def _recording() -> Iterator[tuple[_Switch, InMemorySpanExporter]]:
    reset_trace_globals()
    exporter = InMemorySpanExporter()
    sampler = _Switch()
    provider = TracerProvider(sampler=UntracedAwareSampler(sampler))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield sampler, exporter
    exporter.shutdown()


@pytest.fixture
def spans(_recording: tuple[_Switch, InMemorySpanExporter]) -> Iterator[InMemorySpanExporter]:
    """The spans finished during this test (global provider, everything sampled)."""
    sampler, exporter = _recording
    exporter.clear()
    sampler.on = True
    try:
        yield exporter
    finally:
        sampler.on = False
        exporter.clear()
