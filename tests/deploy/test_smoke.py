"""The post-deployment smoke test (scripts/smoke.py) passes on a ready deployment that asks for payment, and
fails when the deployment is not ready or does not answer 402."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

import pytest

from certify_testkit.chart import ROOT


def _smoke() -> ModuleType:
    spec = importlib.util.spec_from_file_location("smoke", ROOT / "scripts" / "smoke.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Deployment:
    """A stand-in deployment: what /readyz and POST /v1/certify answer, and what it received."""

    def __init__(self) -> None:
        self.ready = 200
        self.certify = 402
        self.seen: list[dict[str, object]] = []


@pytest.fixture
def deployment() -> Iterator[tuple[Deployment, str]]:
    state = Deployment()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(state.ready if self.path == "/readyz" else 404)
            self.end_headers()

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.seen.append({"path": self.path, "key": self.headers.get("X-API-Key"), **body})
            self.send_response(state.certify)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"x402Version": 1, "accepts": [], "error": "payment required"}).encode())

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_ready_deployment_that_asks_for_payment_passes(deployment: tuple[Deployment, str]) -> None:
    state, url = deployment
    assert _smoke().check(url, "key-1", timeout_s=5, ready_wait_s=0) == []
    assert state.seen[0]["path"] == "/v1/certify"
    assert state.seen[0]["key"] == "key-1"
    assert "payment" not in state.seen[0]
    assert state.seen[0]["data"]


def test_a_deployment_that_is_not_ready_or_does_not_ask_for_payment_fails(deployment: tuple[Deployment, str]) -> None:
    state, url = deployment
    state.ready, state.certify = 503, 500
    failures = _smoke().check(url, None, timeout_s=5, ready_wait_s=0)
    assert [failure.split(" answered")[0] for failure in failures] == ["GET /readyz", "POST /v1/certify"]
