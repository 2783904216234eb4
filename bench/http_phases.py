"""The measurements of the HTTP benchmark: closed-loop rounds with CPU per process, round trips to PostgreSQL,
open-loop latency, requests served per proxy worker, and the proxy's memory under a long run."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.load import wrk
from bench.procs import CpuMeter, rss_mib
from bench.stack import API_KEY

DOCUMENT = base64.b64encode(b"benchmark document " * 20).decode()
HEADERS = {"X-API-Key": API_KEY}
CERTIFY_BODY = f'{{"request_id": "@ID@", "data": "{DOCUMENT}", "network": "base-sepolia"}}'
QUOTE_BODY = f'{{"data": "{DOCUMENT}"}}'
BARE_BODY = '{"id": "@ID@"}'


@dataclass
class Target:
    """One contender: URL, body, headers, and the figures of its rounds."""

    name: str
    url: str
    body: str
    headers: dict[str, str]
    expect: int
    rounds: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        requests = sum(run["requests"] for run in self.rounds)
        seconds = sum(run["seconds"] for run in self.rounds) or 1.0
        cpu: dict[str, float] = {}
        for run in self.rounds:
            for group, spent in run["cpu_s"].items():
                cpu[group] = cpu.get(group, 0.0) + spent
        non2xx = sum(run["non2xx"] for run in self.rounds)
        windowed = sum(run["window_requests"] for run in self.rounds)
        per_request = {group: round(1000 * spent / max(windowed, 1), 3) for group, spent in cpu.items()}
        return {
            "requests": requests,
            "req_per_s": round(requests / seconds, 1),
            "cpu_ms_per_request": per_request,
            "cpu_ms_per_request_total": round(sum(per_request.values()), 3),
            # wrk counts statuses >= 400 only: for a 402 target, those are the expected answers.
            "unexpected_status": non2xx if self.expect < 400 else requests - non2xx,
            "errors": sum(run["errors"] for run in self.rounds),
            "latency_ms": self.rounds[-1]["p_ms"] if self.rounds else {},
        }


def closed_round(
    target: Target, meter: CpuMeter, seconds: float, connections: int = 100, served: Callable[[], int] | None = None
) -> dict[str, Any]:
    """One wrk round; the CPU each process group spent in its middle (a ramp of a second left out at each end),
    per request the server finished in that window (``served()``; wrk's rate over the window without it).
    Dividing by wrk's count instead would charge the requests still in flight at the end to the finished ones."""
    runs: list[dict[str, Any]] = []
    load = threading.Thread(
        target=lambda: runs.append(
            wrk(target.url, target.body, target.headers, seconds, connections=connections, threads=min(2, connections))
        )
    )
    ramp_s = min(1.0, seconds / 4)
    load.start()
    time.sleep(ramp_s)
    served_before, started = (served() if served else 0), time.perf_counter()
    meter.start()
    time.sleep(seconds - 2 * ramp_s)
    cpu = meter.stop()
    window_s, served_after = time.perf_counter() - started, (served() if served else 0)
    load.join()
    run = runs[0]
    run["cpu_s"] = cpu
    run["window_requests"] = served_after - served_before if served else run["requests"] * window_s / seconds
    target.rounds.append(run)
    return run


def warm(target: Target, seconds: float = 5) -> None:
    """An unmeasured wrk run: pools, MCP sessions and caches of a new process filled before measuring."""
    wrk(target.url, target.body, target.headers, seconds)


def _post(client: httpx.Client, target: Target, number: int) -> httpx.Response:
    body = target.body.replace("@ID@", f"count-{time.time_ns()}-{number}")
    return client.post(target.url, content=body, headers={"Content-Type": "application/json", **target.headers})


def counted_round_trips(
    relay: Any, work: Callable[[], list[Any]], requests: int, idle_s: float = 3.0
) -> dict[str, Any]:
    """Round trips to PostgreSQL per request of ``work`` (it sends ``requests`` requests one after another and returns
    their answers); what background tasks do meanwhile is measured idle first and subtracted."""
    before = relay.round_trips
    time.sleep(idle_s)
    idle_rate = (relay.round_trips - before) / idle_s
    before, start = relay.round_trips, time.perf_counter()
    answers = work()
    elapsed = time.perf_counter() - start
    counted = relay.round_trips - before
    return {
        "round_trips_per_request": round(max(counted - idle_rate * elapsed, 0.0) / requests, 2),
        "background_per_s": round(idle_rate, 2),
        "answers": sorted(set(answers)),
    }


def count_round_trips(target: Target, relay: Any, requests: int) -> dict[str, Any]:
    """Round trips to PostgreSQL per request of ``target``, sent one after another (:func:`counted_round_trips`)."""
    with httpx.Client(timeout=30) as client:
        for number in range(10):  # warm: pool connections open, statements prepared
            _post(client, target, number)
        return counted_round_trips(
            relay, lambda: [_post(client, target, number).status_code for number in range(requests)], requests
        )


def open_loop(target: Target, rate: float, seconds: float) -> dict[str, Any]:
    """``bench.openloop`` in its own process against the target at ``rate`` requests per second."""
    command = [sys.executable, "-m", "bench.openloop", target.url, "--rate", f"{rate:.1f}", "--seconds", f"{seconds:g}"]
    command += ["--body", target.body]
    for name, value in target.headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 180, check=False)
    line = next((line for line in done.stdout.splitlines() if line.startswith("{")), None)
    return dict(json.loads(line)) if line else {"requests": 0, "p_ms": {}, "stderr": done.stderr[-500:]}


def drained(served: Callable[[], int], timeout_s: float = 120) -> None:
    """Wait until the proxy finishes no more requests from one second to the next: an overloaded open-loop
    run leaves queued requests behind, which would slow whatever is measured next."""
    deadline, last = time.monotonic() + timeout_s, -1
    while time.monotonic() < deadline:
        now = served()
        if now == last:
            return
        last = now
        time.sleep(1.0)


def memory_run(target: Target, pids: list[int], requests: int, cap_s: float, chunk_s: float = 15) -> dict[str, Any]:
    """wrk rounds until ``requests`` were served or ``cap_s`` passed, RSS of ``pids`` sampled every second."""
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append(sum(rss_mib(pid) for pid in pids))

    start_mib = sum(rss_mib(pid) for pid in pids)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    served, started = 0, time.perf_counter()
    try:
        while served < requests and time.perf_counter() - started < cap_s:
            served += wrk(target.url, target.body, target.headers, chunk_s)["requests"]
    finally:
        stop.set()
        sampler.join()
    end_mib = sum(rss_mib(pid) for pid in pids)
    return {
        "requests": served,
        "seconds": round(time.perf_counter() - started, 1),
        "start_mib": round(start_mib, 1),
        "end_mib": round(end_mib, 1),
        "max_mib": round(max([*samples, end_mib]), 1),
        "growth": round(end_mib / start_mib - 1, 4) if start_mib else 0.0,
    }
