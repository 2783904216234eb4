"""HTTP: certify's 402 path and /v1/quote against a bare FastAPI + asyncpg insert, wrk, PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from bench.chart import draw_latency_chart
from bench.load import cpu_seconds, wrk
from bench.timing import record
from certify_testkit import stack as stack_module
from certify_testkit.processes import free_port, wait_until

ROUNDS = 2
SECONDS = 8
API_KEY = "bench-" + uuid.uuid4().hex
DOCUMENT = base64.b64encode(b"benchmark document " * 20).decode()
CHART = Path(".bench") / "latency.png"


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _commits(dsn: str, database: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        value = await connection.fetchval("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", database)
    finally:
        await connection.close()
    return int(value or 0)


def _with_database(url: str, database: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + database


class Target:
    """One contender: how to reach it and which processes do its work."""

    def __init__(self, name: str, url: str, body: str, headers: dict[str, str], pids: list[int]) -> None:
        self.name, self.url, self.body, self.headers, self.pids = name, url, body, headers, pids
        self.rounds: list[dict[str, Any]] = []


def _measure(target: Target, admin_dsn: str, database: str) -> None:
    commits = asyncio.run(_commits(admin_dsn, database))
    cpu = cpu_seconds(target.pids)
    run = wrk(target.url, target.body, target.headers, SECONDS)
    run["cpu_s"] = cpu_seconds(target.pids) - cpu
    run["transactions"] = asyncio.run(_commits(admin_dsn, database)) - commits
    target.rounds.append(run)


def _summary(target: Target) -> dict[str, Any]:
    requests = sum(run["requests"] for run in target.rounds)
    seconds = sum(run["seconds"] for run in target.rounds)
    last = target.rounds[-1]["p_ms"] if target.rounds else {}
    return {
        "req_per_s": round(requests / seconds, 1),
        "cpu_ms_per_request": round(1000 * sum(run["cpu_s"] for run in target.rounds) / requests, 3),
        "db_transactions_per_request": round(sum(run["transactions"] for run in target.rounds) / requests, 2),
        "non2xx": sum(run["non2xx"] for run in target.rounds),
        "errors": sum(run["errors"] for run in target.rounds),
        "latency_ms": last,
    }


def _stack_env_on(database_url: str, redis_url: str) -> Any:
    original = stack_module.stack_env

    def stack_env(state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
        env = original(state_dir, ports)
        return {**env, "DATABASE_URL": database_url, "REDIS_URL": redis_url}

    return stack_env


def main() -> None:
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not database_url.startswith("postgresql") or not redis_url:
        print("   skipped: set DATABASE_URL (PostgreSQL) and REDIS_URL to run the HTTP benchmark")
        return
    admin_dsn = _plain_dsn(database_url)
    database = f"certify_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{database}"'))
    bench_url = _with_database(database_url, database)
    os.environ.update(
        {
            "CERTIFY_STACK_PORTS": "auto",
            "DEV_API_KEY": API_KEY,
            "RATE_LIMIT_WRITES_PER_MIN": "100000000",
            "RATE_LIMIT_READS_PER_MIN": "100000000",
            "LOG_LEVEL": "WARNING",
            # A loaded machine starts the stack slowly; the benchmark waits rather than giving up.
            "CERTIFY_STACK_START_TIMEOUT_S": os.environ.get("CERTIFY_STACK_START_TIMEOUT_S", "300"),
        }
    )
    stack_module.stack_env = _stack_env_on(bench_url, redis_url)
    bare_port = free_port()
    bare = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(bare_port), "--log-level", "warning"],
        env={**os.environ, "BENCH_PG_DSN": _plain_dsn(bench_url)},
    )
    try:
        with tempfile.TemporaryDirectory() as state:
            stack = stack_module.Stack(Path(state))
            try:
                try:
                    stack.start()
                except (TimeoutError, RuntimeError, SystemExit) as exc:
                    print(f"   skipped: the stack did not start on this machine ({exc})")
                    return
                wait_until(lambda: stack_module.port_taken(bare_port), timeout_s=60, what="the bare app")
                pids = [process.proc.pid for process in stack.processes if process.proc is not None]
                headers = {"X-API-Key": API_KEY}
                targets = [
                    Target("bare insert", f"http://127.0.0.1:{bare_port}/insert", '{"id": "@ID@"}', {}, [bare.pid]),
                    Target(
                        "402 POST /v1/certify",
                        stack.url("proxy", "/v1/certify"),
                        f'{{"request_id": "@ID@", "data": "{DOCUMENT}", "network": "base-sepolia"}}',
                        headers,
                        pids,
                    ),
                    Target(
                        "POST /v1/quote", stack.url("proxy", "/v1/quote"), f'{{"data": "{DOCUMENT}"}}', headers, pids
                    ),
                ]
                for _ in range(ROUNDS):
                    for target in targets:
                        _measure(target, admin_dsn, database)
            finally:
                stack.stop()
    finally:
        bare.terminate()
        bare.wait(timeout=30)
        asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    empty = [target.name for target in targets if not any(run["requests"] for run in target.rounds)]
    if empty:
        # No figure is better than a wrong one: say what wrk could not measure and why.
        for target in targets:
            errors = "; ".join(str(run.get("stderr", "")).strip()[-200:] for run in target.rounds if run.get("stderr"))
            print(f"   {target.name:<24} no requests measured{': ' + errors if errors else ''}")
        print(f"   no ratio: wrk measured nothing for {', '.join(empty)}")
        return
    figures = {target.name: _summary(target) for target in targets}
    for name, summary in figures.items():
        latency = summary["latency_ms"]
        print(
            f"   {name:<24} {summary['req_per_s']:8.1f} req/s  CPU {summary['cpu_ms_per_request']:7.2f} ms/req  "
            f"DB xacts {summary['db_transactions_per_request']:5.2f}/req  p50 {latency.get('50', 0):7.1f} ms  "
            f"p95 {latency.get('95', 0):7.1f} ms  non-2xx {summary['non2xx']}  errors {summary['errors']}"
        )
    ratio = figures["402 POST /v1/certify"]["req_per_s"] / max(figures["bare insert"]["req_per_s"], 0.1)
    print(f"   402 throughput / bare insert: {100 * ratio:.1f} % (target >= 30 %, one proxy process)")
    print("   not measured yet: 2 proxy processes, open-loop latency, the paid path (issue 14 after issue 13)")
    print("   CPU counts every stack process (proxy, quote, x402, qr, circular, sandbox), not PostgreSQL/Redis;")
    print("   DB xacts = pg_stat_database.xact_commit delta (transactions, not round trips).")
    figures["ratio_402_to_bare"] = {"value": round(ratio, 4)}
    record("http", figures)
    draw_latency_chart({name: figures[name]["latency_ms"] for name in figures if name != "ratio_402_to_bare"}, CHART)
    print(f"   latency chart: {CHART}")
