"""HTTP: certify's 402 path and /v1/quote against a bare FastAPI + asyncpg insert (wrk, PostgreSQL + Redis).

Every service runs as its image does (``docker/entrypoint.sh``: gunicorn, uvloop, httptools, SO_REUSEPORT);
the bare app runs under the same gunicorn worker class. Phases: PostgreSQL round trips per request (through a
counting relay), alternating closed-loop rounds with CPU per process, open-loop latency at half of bare's
throughput, one client's latency, the proxy's memory over a long run, and two proxy workers against one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.chart import draw_latency_chart
from bench.http_phases import (
    BARE_BODY,
    CERTIFY_BODY,
    HEADERS,
    QUOTE_BODY,
    Target,
    closed_round,
    count_round_trips,
    drained,
    memory_run,
    open_loop,
    warm,
)
from bench.paid_phase import count_paid_round_trips, paid
from bench.pgrelay import RoundTripRelay
from bench.procs import CpuMeter, postgres_backends, redis_server, requests_by_worker, with_workers
from bench.profile import current
from bench.stack import BareApp, BenchStack, plain_dsn
from bench.targets import verdict
from bench.timing import record
from certify_testkit.sockets import children

CHART = Path(".bench") / "latency.png"
MCP_SERVERS = ("quote", "x402", "qr", "circular", "sandbox")


def _meters(stack: BenchStack, bare: BareApp, redis_url: str) -> tuple[CpuMeter, CpuMeter]:
    postgres = postgres_backends(stack.admin_dsn, stack.database)
    groups = {"proxy": lambda: with_workers(stack.pid("proxy"))}
    for name in MCP_SERVERS:
        groups[name] = lambda name=name: with_workers(stack.pid(name))  # type: ignore[misc]
    groups |= {"postgres": postgres, "redis": redis_server(redis_url)}
    assert bare.proc is not None
    bare_pid = bare.proc.pid
    return CpuMeter(groups), CpuMeter({"bare": lambda: with_workers(bare_pid), "postgres": postgres})


def _targets(stack: BenchStack, bare_port: int) -> list[Target]:
    return [
        Target("bare insert", f"http://127.0.0.1:{bare_port}/insert", BARE_BODY, {}, 200),
        Target("402 POST /v1/certify", stack.url("proxy", "/v1/certify"), CERTIFY_BODY, HEADERS, 402),
        Target("POST /v1/quote", stack.url("proxy", "/v1/quote"), QUOTE_BODY, HEADERS, 200),
    ]


def _proxy_served(stack: BenchStack) -> Callable[[], int]:
    """HTTP requests the proxy's workers finished so far (their multiprocess metrics files)."""
    metrics_dir = Path(stack.processes["proxy"].env["PROMETHEUS_MULTIPROC_DIR"])
    return lambda: sum(requests_by_worker(metrics_dir, children(stack.pid("proxy"))).values())


def _count_phase(stack: BenchStack, relay: RoundTripRelay, state: Path, requests: int) -> dict[str, Any]:
    counted_bare = BareApp(state, relay.dsn(plain_dsn(stack.database_url))).start()
    try:
        return {
            target.name: count_round_trips(target, relay, requests) for target in _targets(stack, counted_bare.port)
        }
    finally:
        counted_bare.stop()


#: Paid submissions counted through the relay (sequential: each costs a few tens of milliseconds).
PAID_COUNTED = 20
NO_WORKERS = {"JOB_WORKERS": "0"}


def run(database_url: str, redis_url: str) -> dict[str, Any]:
    profile = current()
    figures: dict[str, Any] = {}
    pg = urlsplit(plain_dsn(database_url))
    with tempfile.TemporaryDirectory() as folder, RoundTripRelay(pg.hostname or "127.0.0.1", pg.port or 5432) as relay:
        state = Path(folder)
        stack = BenchStack(state, database_url, redis_url)
        bare: BareApp | None = None
        try:
            # The counting proxy runs no job workers: a paid submission's count is its own statements.
            stack.start(proxy_workers=1, proxy_database_url=relay.dsn(stack.database_url), proxy_env=NO_WORKERS)
            figures["round_trips"] = _count_phase(stack, relay, state, profile.counted_requests)
            figures["round_trips_paid"] = count_paid_round_trips(stack, relay, PAID_COUNTED)
            stack.restart_proxy(1)
            stack.wait_jobs_done()  # the counted submissions' certifications run now, before anything is timed
            bare = BareApp(state, plain_dsn(stack.database_url)).start()
            stack_meter, bare_meter = _meters(stack, bare, redis_url)
            targets = _targets(stack, bare.port)
            for target in targets:
                warm(target)
            served = _proxy_served(stack)
            for _ in range(profile.rounds):
                for target in targets:
                    if target.name == "bare insert":
                        closed_round(target, bare_meter, profile.round_s)
                    else:
                        closed_round(target, stack_meter, profile.round_s, served=served)
            figures["closed_loop"] = {target.name: target.summary() for target in targets}
            certify = targets[1]
            bare_rate = figures["closed_loop"]["bare insert"]["req_per_s"]
            own_rate = figures["closed_loop"][certify.name]["req_per_s"]
            # One process at half of what it serves closed-loop (informational; the target's load is below).
            figures["open_loop_402_one"] = open_loop(certify, max(own_rate / 2, 1.0), profile.open_loop_s)
            drained(served)
            single = Target("402, one client", certify.url, certify.body, certify.headers, 402)
            closed_round(single, stack_meter, profile.single_client_s, connections=1, served=served)
            figures["single_client_402"] = single.summary()
            proxy_workers = children(stack.pid("proxy"))
            figures["memory_402"] = memory_run(certify, proxy_workers, profile.memory_requests, profile.memory_cap_s)
            stack.restart_proxy(2)
            two = Target("402, two proxy workers", certify.url, certify.body, certify.headers, 402)
            warm(two)
            for _ in range(profile.rounds):
                closed_round(two, stack_meter, profile.round_s, served=_proxy_served(stack))
            figures["two_workers_402"] = two.summary()
            metrics_dir = Path(stack.processes["proxy"].env["PROMETHEUS_MULTIPROC_DIR"])
            served = requests_by_worker(metrics_dir, children(stack.pid("proxy")))
            figures["two_workers_402"]["requests_by_worker"] = {str(pid): count for pid, count in served.items()}
            # The target's offered load, half of the bare insert's throughput, on the two-process proxy.
            figures["open_loop_402"] = open_loop(two, max(bare_rate / 2, 1.0), profile.open_loop_s)
            try:
                figures["paid"] = paid(stack, profile.paid_requests, stack_meter)
            except Exception as exc:  # the figures so far still print: say what stopped this phase
                figures["paid"] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            if bare is not None:
                bare.stop()
            stack.stop()
    return figures


def report(figures: dict[str, Any]) -> None:
    closed = figures["closed_loop"]
    for name, summary in closed.items():
        latency = summary["latency_ms"]
        print(
            f"   {name:<22} {summary['req_per_s']:8.1f} req/s  p50 {latency.get('50', 0):7.1f} ms  "
            f"p95 {latency.get('95', 0):7.1f} ms  unexpected status {summary['unexpected_status']}  errors "
            f"{summary['errors']}  DB round trips {figures['round_trips'][name]['round_trips_per_request']:.2f}/req "
            f"(answers {figures['round_trips'][name]['answers']})"
        )
        cpu = ", ".join(f"{group} {ms:.2f}" for group, ms in summary["cpu_ms_per_request"].items() if ms >= 0.005)
        print(f"   {'':<22} CPU ms/request: total {summary['cpu_ms_per_request_total']:.2f} = {cpu}")
    background = {name: trips["background_per_s"] for name, trips in figures["round_trips"].items()}
    print(f"   (DB round trips: counting relay, background round trips/s subtracted: {background})")
    bare, certify = closed["bare insert"], closed["402 POST /v1/certify"]
    measured = bool(bare["requests"] and certify["requests"])
    ratio = 100 * certify["req_per_s"] / bare["req_per_s"] if measured else None
    verdict("402 throughput / bare insert (one proxy process)", ratio, ">= 30 %", (ratio or 0) >= 30, " %")
    _report_open(figures["open_loop_402_one"], "one process, half its closed-loop rate")
    _report_open(figures["open_loop_402"], "two processes, half the bare insert's rate")
    p95 = figures["open_loop_402"]["p_ms"].get("95")
    label = "402 p95 at 50 % of bare's throughput (open loop, 2 processes)"
    verdict(label, p95, "<= 100 ms", (p95 or 1e9) <= 100, " ms")
    p50 = figures["single_client_402"]["latency_ms"].get("50")
    verdict("402 p50, one client", p50, "<= 10 ms", (p50 or 1e9) <= 10, " ms")
    one, two = certify["cpu_ms_per_request_total"], figures["two_workers_402"]["cpu_ms_per_request_total"]
    served = figures["two_workers_402"]["requests_by_worker"]
    print(f"   two proxy workers: {figures['two_workers_402']['req_per_s']} req/s, requests by worker {served}")
    change = 100 * (two / one - 1) if one else None
    # Scale-out must not cost more CPU per 402: two processes may use less (PostgreSQL commits more per flush
    # at the higher rate; each event loop is less saturated), which is no miss.
    verdict("CPU per 402, 2 proxy processes vs 1", change, "<= +10 %", (1e9 if change is None else change) <= 10, " %")
    both = len(served) == 2 and min(served.values()) > 0
    share = 100 * min(served.values()) / max(sum(served.values()), 1) if served else None
    verdict("smaller worker's share of 402s (both serving)", share, "> 0 %, balanced ~50 %", both, " %")
    memory = figures["memory_402"]
    print(
        f"   memory: {memory['requests']:,} 402s in {memory['seconds']} s: proxy worker RSS start "
        f"{memory['start_mib']} MiB, end {memory['end_mib']} MiB, max {memory['max_mib']} MiB"
    )
    _report_paid(figures["paid"])
    trips = figures["round_trips_paid"]
    print(
        f"   paid submission (one at a time, job workers off): DB round trips {trips['round_trips_per_request']:.2f}"
        f"/submission (answers {trips['answers']}; background {trips['background_per_s']}/s subtracted)"
    )
    growth = 100 * memory["growth"]
    label = f"proxy RSS growth across {memory['requests']:,} 402s (target count 100,000)"
    verdict(label, growth, "flat within ±10 %", abs(growth) <= 10, " %")


def _report_open(opened: dict[str, Any], label: str) -> None:
    p = opened["p_ms"]
    print(
        f"   open loop, {label} (bench.openloop, CO-free): offered {opened.get('offered_per_s', 0):.0f}/s, "
        f"achieved {opened.get('achieved_per_s', 0)}/s, statuses {opened.get('statuses')}, generator CPU "
        f"{opened.get('generator_cpu_s')} s, p50/p95/p99 {p.get('50')}/{p.get('95')}/{p.get('99')} ms"
        + (" (lower bounds: some requests were never answered)" if opened.get("lower_bound") else "")
    )


def _report_paid(paid: dict[str, Any]) -> None:
    if "error" in paid:
        print(f"   paid phase stopped: {paid['error']}")
        for name, target in (("paid submissions per second", ">= 100/s"), ("authorizations settled twice", "0")):
            verdict(name, None, target, None)
        verdict("proxy + MCP share of a paid submission (2 s chain)", None, "<= 5 %", None)
        return
    print(
        f"   paid (two proxy workers, sandbox facilitator): {paid['submissions']} submissions in {paid['seconds']} s, "
        f"outcomes {paid['outcomes']}; {paid['transfers']} transfers for {paid['accepted']} accepted; each of "
        f"{paid['duplicated_authorizations']} authorizations sent twice at once: {paid['duplicate_transfers']} "
        f"transfers, outcomes {paid['duplicate_outcomes']}"
    )
    if paid.get("certified_s") is not None:
        print(
            f"   certifications the {paid['submissions']} payments queued: all finished {paid['certified_s']} s after "
            f"the first payment, {paid['completed']} completed on the sandbox chain and {paid['failed']} failed: "
            f"{paid['completed_per_s']} completed/s"
        )
    cpu = paid["cpu_ms_per_submission"]
    parts = ", ".join(f"{group} {ms:.2f}" for group, ms in sorted(cpu.items(), key=lambda item: -item[1]) if ms >= 0.05)
    print(
        f"   CPU ms per paid submission while paying (certification jobs included): "
        f"total {sum(cpu.values()):.1f} = {parts}"
    )
    verdict("paid submissions per second", paid["per_s"], ">= 100/s", paid["per_s"] >= 100, "/s")
    once = paid["transfers"] == paid["accepted"] and paid["duplicate_transfers"] == paid["duplicated_authorizations"]
    verdict("authorizations settled twice", 0 if once else 1, "0 (one transfer each)", once)
    print(
        f"   paid submission with the chain's settle taking {paid['slow_chain_s_per_submission']} s: wall "
        f"{paid['slow_wall_s_per_submission']} s per submission (sequential)"
    )
    share = 100 * paid["overhead_share"] if paid["overhead_share"] is not None else None
    verdict("proxy + MCP share of a paid submission (2 s chain)", share, "<= 5 %", (share or 1e9) <= 5, " %")


def main() -> None:
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not database_url.startswith("postgresql") or not redis_url:
        print("   not run: set DATABASE_URL (PostgreSQL) and REDIS_URL to run the HTTP benchmark")
        return
    figures = run(database_url, redis_url)
    report(figures)
    series = {name: summary["latency_ms"] for name, summary in figures["closed_loop"].items()}
    series["402 open loop, 2 processes"] = figures["open_loop_402"]["p_ms"]
    series["402 open loop, 1 process"] = figures["open_loop_402_one"]["p_ms"]
    series["402 one client"] = figures["single_client_402"]["latency_ms"]
    draw_latency_chart(series, CHART)
    record("http", figures)
    print(f"   latency chart: {CHART}; figures: .bench/results.json")
