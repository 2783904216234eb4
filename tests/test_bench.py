"""The benchmark's instruments work (``make bench``): no timing is asserted, only that they count and parse.

Every module imports; wrk runs the generated Lua script and its JSON line parses; the open-loop generator
answers for every request it scheduled; the relay counts PostgreSQL round trips; verdicts print.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import pytest

import bench
from bench import load, openloop, targets
from bench.pgrelay import RoundTripRelay
from bench.stack import plain_dsn

CANNED_WRK = """Running 1s test @ http://127.0.0.1:8080/insert
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    71.29ms   40.12ms 321.55ms   70.10%
  1540 requests in 1.01s, 230.12KB read
Requests/sec:   1524.75
Transfer/sec:    227.83KB
JSON{"requests": 1540, "seconds": 1.010123, "non2xx": 0, "errors": 2, "p_ms": {"50": 64.1,"99.9": 321.0,"95": 140.2}}
"""


def test_every_benchmark_module_imports() -> None:
    names = [module.name for module in pkgutil.iter_modules(bench.__path__)]
    assert {"bench_http", "bench_crypto", "load", "openloop", "pgrelay", "stack"} <= set(names)
    for name in names:
        importlib.import_module(f"bench.{name}")


def test_the_wrk_summary_line_parses_into_counts_and_percentiles() -> None:
    assert load.parse(CANNED_WRK) == {
        "requests": 1540,
        "seconds": 1.010123,
        "non2xx": 0,
        "errors": 2,
        "p_ms": {"50": 64.1, "99.9": 321.0, "95": 140.2},
    }


def test_a_wrk_run_without_a_summary_line_reports_nothing_measured_and_why() -> None:
    assert load.parse("", "unable to connect to 127.0.0.1:1", 8) == {
        "requests": 0,
        "seconds": 8,
        "non2xx": 0,
        "errors": 0,
        "p_ms": {},
        "stderr": "unable to connect to 127.0.0.1:1",
    }


class _Answers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bodies: list[bytes] = []  # noqa: RUF012  # shared by the handler instances of one test server

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        status = 402 if self.path == "/pay" else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def http_server() -> Iterator[str]:
    _Answers.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_wrk_runs_the_script_with_unique_bodies_and_reports_every_percentile(http_server: str) -> None:
    # Two threads: wrk's threads share one random sequence, so ids must differ by thread, not by chance.
    run = load.wrk(f"{http_server}/insert", '{"id": "@ID@"}', {"X-Test": "1"}, 1, connections=4, threads=2)
    assert run["requests"] > 0
    assert (run["non2xx"], run["errors"]) == (0, 0)
    assert set(run["p_ms"]) == {f"{p:g}" for p in load.PERCENTILES}
    assert len(set(_Answers.bodies)) == len(_Answers.bodies)
    assert all(b"@ID@" not in body for body in _Answers.bodies)


def test_the_open_loop_generator_answers_for_every_scheduled_request(
    http_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # As the benchmark runs it: the command, on uvloop (whose transports are not asyncio.Transport subclasses).
    openloop.main(
        [f"{http_server}/pay", "--rate", "40", "--seconds", "1", "--body", '{"id": "@ID@"}', "-H", "X-Test: 1"]
    )
    result = json.loads(capsys.readouterr().out)
    assert result["requests"] == 40
    assert result["statuses"] == {"402": 40, "unanswered": 0}
    assert result["lower_bound"] is False
    assert set(result["p_ms"]) == {f"{p:g}" for p in openloop.PERCENTILES}  # type: ignore[arg-type]
    assert len(set(_Answers.bodies)) == 40


@pytest.mark.integration
def test_the_relay_counts_one_round_trip_per_statement(database_url: str) -> None:
    dsn = plain_dsn(database_url)
    host, port = dsn.split("@", 1)[1].split("/", 1)[0].split(":")

    async def three_statements(url: str) -> None:
        connection = await asyncpg.connect(url, ssl=False)
        try:
            before = relay.round_trips
            for _ in range(3):
                await connection.execute("SELECT 1")
            counted.append(relay.round_trips - before)
        finally:
            await connection.close()

    counted: list[int] = []
    with RoundTripRelay(host, int(port)) as relay:
        asyncio.run(three_statements(relay.dsn(dsn)))
    assert counted == [3]


def test_a_verdict_says_met_missed_or_not_measured(capsys: pytest.CaptureFixture[str]) -> None:
    targets.verdict("ratio", 31.0, ">= 30 %", True, " %")
    targets.verdict("p95", 120.0, "<= 100 ms", False, " ms")
    targets.verdict("paid", None, ">= 100/s", None)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in lines] == ["met", "MISSED", "measured"]
    assert [verdict["state"] for verdict in targets.VERDICTS[-3:]] == ["met", "MISSED", "not measured"]


def test_the_paid_phase_counts_each_submission_by_the_status_the_client_returns() -> None:
    """The client returns typed status documents: the phase reads their ``status`` (a dict lookup counted every
    submission as an AttributeError)."""
    from bench.paid_phase import _pay_all
    from certify_client.models import StatusDocument

    class Client:
        async def pay(self, request_id: str, payment: object) -> StatusDocument:
            if request_id == "refused":
                raise ValueError(request_id)
            return StatusDocument.model_construct(status="payment_verified")

    signed = [("a", object()), ("b", object()), ("refused", object())]
    _, outcomes = asyncio.run(_pay_all(Client(), signed))  # type: ignore[arg-type]
    assert outcomes == ["payment_verified", "payment_verified", "ValueError"]
