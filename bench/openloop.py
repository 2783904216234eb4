"""An open-loop HTTP load generator: requests start on a fixed schedule, whatever the answers do.

``python -m bench.openloop URL --rate 500 --seconds 10 --body '{"id": "@ID@"}' -H 'X-API-Key: k'`` prints one
JSON line: requests, statuses, latency percentiles in ms measured from each request's *scheduled* start (so a
stalled server is charged for the requests it delayed: no coordinated omission), and the generator's own CPU.

wrk2 (wrk's open-loop fork) is packaged neither by Debian nor on PyPI, and httperf (Debian) opens a connection
per request and prints no percentiles; this generator is uvloop + httptools' C parser over keep-alive
connections (a new one only while every open one is busy), costing a few per cent of a core at the rates
measured here, which the JSON reports (``generator_cpu_s``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
import uuid
from collections import Counter
from typing import cast
from urllib.parse import urlsplit

import httptools
import uvloop

PERCENTILES = (10, 25, 50, 75, 90, 95, 99, 99.9)
MAX_CONNECTIONS = 512
#: Seconds answers may take after the last request was due.
GRACE_S = 10.0


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[int] | None = None
        # uvloop may call connection_made after create_connection returned: send waits for it.
        self.made: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport provides asyncio.Transport's methods without deriving from it.
        self.transport = cast(asyncio.Transport, transport)
        self.made.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("closed"))

    async def send(self, request: bytes) -> int:
        await self.made
        assert self.transport is not None
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.answer


def percentiles_ms(latencies_s: list[float]) -> dict[str, float]:
    """Nearest-rank percentiles (keys as wrk's script writes them: "50", "99.9")."""
    ordered = sorted(latencies_s)
    if not ordered:
        return {}
    picked = {}
    for p in PERCENTILES:
        index = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
        picked[f"{p:g}"] = round(ordered[index] * 1000, 3)
    return picked


async def run(url: str, rate: float, seconds: float, body: str, headers: dict[str, str]) -> dict[str, object]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    loop = asyncio.get_running_loop()
    idle: list[_Connection] = []
    opened = [0]
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    prefix = uuid.uuid4().hex[:12]

    async def one(number: int, scheduled: float) -> None:
        connection = idle.pop() if idle else None
        try:
            if connection is None:
                opened[0] += 1
                _, connection = await loop.create_connection(_Connection, host, port)
            payload = body.replace("@ID@", f"{prefix}-{number}").encode()
            request = f"{head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload
            statuses[str(await connection.send(request))] += 1
            latencies.append(time.perf_counter() - scheduled)
            idle.append(connection)
        except (ConnectionError, OSError):
            statuses["error"] += 1

    cpu_start = time.process_time()
    start = time.perf_counter()
    total = int(rate * seconds)
    tasks = []
    for number in itertools.count():
        if number >= total:
            break
        scheduled = start + number / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if opened[0] - len(idle) >= MAX_CONNECTIONS and not idle:
            statuses["dropped"] += 1  # more in flight than the generator holds: counted, not sent
            continue
        tasks.append(asyncio.create_task(one(number, scheduled)))
    # An overloaded server would keep the generator forever: what is unanswered after the grace period counts
    # with the time it had waited by then, and the percentiles become lower bounds.
    _, pending = await asyncio.wait(tasks, timeout=GRACE_S) if tasks else (set(), set())
    now = time.perf_counter()
    unanswered = len(pending) + statuses["dropped"]
    for task in pending:
        task.cancel()
    wall = now - start
    latencies += [now - start - seconds] * unanswered
    statuses["unanswered"] = len(pending)
    return {
        "lower_bound": bool(unanswered),
        "requests": len(latencies) - unanswered,
        "offered_per_s": rate,
        "achieved_per_s": round((len(latencies) - unanswered) / wall, 1),
        "statuses": dict(statuses),
        "connections": opened[0],
        "p_ms": percentiles_ms(latencies),
        "generator_cpu_s": round(time.process_time() - cpu_start, 3),
        "seconds": round(wall, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.openloop", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="requests per second, started on schedule")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--body", required=True, help="JSON body; @ID@ becomes unique per request")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    args = parser.parse_args(argv)
    headers = dict(item.split(": ", 1) for item in args.header)
    result = uvloop.run(run(args.url, args.rate, args.seconds, args.body, headers))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
