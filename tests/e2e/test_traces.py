"""`make run` with OTEL_EXPORTER_OTLP_ENDPOINT set: one paid certification is one connected trace.

An OTLP/HTTP collector runs in the test (a plain HTTP server decoding ``ExportTraceServiceRequest``
with opentelemetry-proto); the launcher starts the whole stack as processes with the test's OTEL_*
environment and runs its demo (an agent quotes, gets the 402, pays, waits for the certificate).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from certify_common.logs import REDACTED
from certify_common.tracing import SAFE_QUERY_PARAMETERS
from certify_testkit.otlp import CLIENT, CONSUMER, SERVER, Collector, Span
from certify_testkit.processes import wait_until

pytestmark = pytest.mark.e2e

BLOB = re.compile(r"[A-Za-z0-9+/_-]{80,}")


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as found:
        yield found


def _demo_env(state_dir: Path, collector: Collector) -> dict[str, str]:
    env = {
        **os.environ,
        "CERTIFY_STACK_PORTS": "auto",
        "CERTIFY_STATE_DIR": str(state_dir),
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "CERTIFY_STACK_START_TIMEOUT_S": "240",
    }
    for name in (
        "CERTIFY_TEST_LOG_DIR",
        "DEV_API_KEY",
        "CIRCULAR_CEP_TESTNET_PRIVATE_KEY",
        "OTEL_SERVICE_NAME",
        "DATABASE_URL",
        "REDIS_URL",
    ):
        env.pop(name, None)
    return env


def _find(spans: list[Span], service: str, name: str, kind: int) -> list[Span]:
    return [span for span in spans if span.service == service and span.name == name and span.kind == kind]


def _url(span: Span) -> str:
    """The URL of a client span (``url.full``, or ``http.url`` in the older HTTP conventions)."""
    return str(span.attributes.get("url.full") or span.attributes.get("http.url") or "")


def _paid_trace(spans: list[Span]) -> str | None:
    """The trace of the request that paid: it holds the x402 server's settle span."""
    settled = _find(spans, "certify-x402", "tools/call settle_payment", SERVER)
    return settled[0].trace_id if settled else None


def _job_trace(spans: list[Span], paid: str) -> tuple[Span, list[Span]] | None:
    """The certification job's root span linked to the paid trace, and its trace once it reached the NAG."""
    for root in _find(spans, "certify-proxy", "job certify", CONSUMER):
        if any(trace_id == paid for trace_id, _ in root.links):
            trace = [span for span in spans if span.trace_id == root.trace_id]
            if any(span.service == "certify-circular" and span.kind == CLIENT for span in trace):
                return root, trace
    return None


@pytest.mark.timeout(720)  # the whole stack starts and certifies; a loaded CI machine needs the room
def test_one_paid_certification_exports_a_connected_trace_and_a_linked_job_trace(
    tmp_path: Path, collector: Collector
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "certify_devstack", "demo"],
        env=_demo_env(tmp_path, collector),
        capture_output=True,
        text=True,
        timeout=700,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]

    def complete() -> bool:
        spans = collector.snapshot()
        paid = _paid_trace(spans)
        return paid is not None and _job_trace(spans, paid) is not None

    try:
        wait_until(complete, 30, 0.2, "the paid request's trace and the linked job trace")
    finally:
        # What arrived, for the reader of a failure: one line per span.
        (tmp_path / "spans.txt").write_text(
            "\n".join(
                f"{span.trace_id} {span.span_id} <- {span.parent_id or 'root'} {span.service} {span.kind} {span.name}"
                f" links={len(span.links)}"
                for span in collector.snapshot()
            )
        )
    spans = collector.snapshot()
    paid = _paid_trace(spans)
    assert paid is not None
    request_trace = [span for span in spans if span.trace_id == paid]
    by_id = {span.span_id: span for span in request_trace}

    # One trace: the proxy's HTTP request, its MCP client spans, the x402 server's MCP spans and their upstream call.
    (root,) = [span for span in request_trace if span.parent_id == ""]
    assert (root.service, root.kind, root.name) == ("certify-proxy", SERVER, "POST /v1/certify")
    for tool in ("verify_payment", "settle_payment"):
        (client,) = _find(request_trace, "certify-proxy", f"tools/call {tool}", CLIENT)
        assert client.attributes["mcp.method.name"] == "tools/call"
        assert client.attributes["gen_ai.tool.name"] == tool
        assert client.attributes["gen_ai.operation.name"] == "execute_tool"
        assert "error.type" not in client.attributes
        (server,) = _find(request_trace, "certify-x402", f"tools/call {tool}", SERVER)
        assert server.attributes["mcp.method.name"] == "tools/call"
        assert server.attributes["gen_ai.tool.name"] == tool
        ancestors = []
        parent = by_id.get(server.parent_id)
        while parent is not None:
            ancestors.append(parent.span_id)
            parent = by_id.get(parent.parent_id)
        assert client.span_id in ancestors
    # The HTTP hop of MCP carries the context too: the x402 server's HTTP span is in the same trace.
    assert any(
        span.service == "certify-x402" and span.kind == SERVER and span.name.split(" ")[0] == "POST"
        for span in request_trace
    )
    upstream = [span for span in request_trace if span.service == "certify-x402" and span.kind == CLIENT]
    assert any("/facilitator/settle" in _url(span) for span in upstream)
    assert any(span.service == "certify-sandbox" and span.kind == SERVER for span in request_trace)
    assert any(span.service == "certify-proxy" and "db.system" in str(span.attributes) for span in request_trace)

    # The job: a trace of its own, linked to the request that paid, reaching the circular server and the NAG.
    found = _job_trace(spans, paid)
    assert found is not None
    job, job_trace = found
    assert job.parent_id == ""
    assert job.attributes["certify.job.kind"] == "certify"
    assert _find(job_trace, "certify-circular", "tools/call certify_data", SERVER)
    nag_calls = [span for span in job_trace if span.service == "certify-circular" and span.kind == CLIENT]
    assert any("/nag/" in _url(span) for span in nag_calls)

    # Nothing secret left any process: no header attribute, no blob, no tool arguments, no query value.
    for span in spans:
        for key, value in span.attributes.items():
            assert not key.startswith(("http.request.header.", "gen_ai.tool.call.")), (span.name, key)
            text = json.dumps(value)
            assert not BLOB.search(text), (span.name, key)
            if key in ("url.full", "http.url", "http.target", "url.query") and "=" in text:
                for parameter in re.split(r"[?&]", text.strip('"'))[1:]:
                    name, _, value = parameter.partition("=")
                    assert name in SAFE_QUERY_PARAMETERS or value == REDACTED, (span.name, key, name)

    # The proxy's log lines inside the request carry its trace and span ids.
    proxy_log = next((tmp_path / "logs").glob("certify_proxy-*.log")).read_text()
    lines = [json.loads(line) for line in proxy_log.splitlines() if line.startswith("{")]
    assert any(line.get("trace_id") == paid and line.get("span_id") in by_id for line in lines)
