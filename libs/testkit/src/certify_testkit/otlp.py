"""An OTLP/HTTP trace collector for tests: a plain HTTP server decoding ``ExportTraceServiceRequest``.

Point ``OTEL_EXPORTER_OTLP_ENDPOINT`` at :attr:`Collector.url`; received spans are kept, flattened, with
their service name. Used as a context manager (serves in a thread until the block ends).
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

SERVER = SpanProto.SpanKind.SPAN_KIND_SERVER
CLIENT = SpanProto.SpanKind.SPAN_KIND_CLIENT
CONSUMER = SpanProto.SpanKind.SPAN_KIND_CONSUMER
INTERNAL = SpanProto.SpanKind.SPAN_KIND_INTERNAL


@dataclass(frozen=True)
class Span:
    """One received span, flattened (ids in hex, the parent "" for a root)."""

    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    links: tuple[tuple[str, str], ...]
    attributes: dict[str, Any] = field(hash=False)
    events: tuple[tuple[str, dict[str, Any]], ...] = ()
    status_message: str = ""


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None


class Collector:
    """Receives OTLP/HTTP protobuf trace exports and keeps the spans."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                collector.receive(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def receive(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            resource = {item.key: _value(item.value) for item in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        Span(
                            service=str(resource.get("service.name")),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
                            attributes={item.key: _value(item.value) for item in span.attributes},
                            events=tuple(
                                (event.name, {item.key: _value(item.value) for item in event.attributes})
                                for event in span.events
                            ),
                            status_message=span.status.message,
                        )
                    )
        with self.lock:
            self.spans.extend(received)

    def snapshot(self) -> list[Span]:
        """The spans received so far."""
        with self.lock:
            return list(self.spans)

    def __enter__(self) -> Collector:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
