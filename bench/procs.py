"""CPU time and memory of the processes doing the work, from /proc: the stack's, PostgreSQL's backends, Redis."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import asyncpg
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from certify_testkit.sockets import children

Group = Callable[[], list[int]]


def cpu_of(pid: int) -> float:
    """utime + stime of one process in seconds (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident set size of one process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def with_workers(pid: int) -> list[int]:
    """A gunicorn master and its workers."""
    return [pid, *children(pid)]


def postgres_backends(admin_dsn: str, database: str) -> Group:
    """The server processes of every connection to ``database`` (asked each time: pools open and close them)."""

    async def ask() -> list[int]:
        connection = await asyncpg.connect(admin_dsn)
        try:
            rows = await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
        finally:
            await connection.close()
        return [int(row["pid"]) for row in rows]

    return lambda: asyncio.run(ask())


def redis_server(url: str) -> Group:
    """The Redis server's process (shared with whatever else uses that server on this machine)."""
    client = redis.Redis.from_url(url)
    pid = int(client.info("server")["process_id"])
    client.close()
    return lambda: [pid]


class CpuMeter:
    """CPU seconds per named group of processes between ``start()`` and ``stop()``; a process that starts in
    between counts from zero, one that ends loses what it spent (pools keep their connections, so few do)."""

    def __init__(self, groups: dict[str, Group]) -> None:
        self.groups = groups
        self._before: dict[str, dict[int, float]] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_of(pid) for pid in group()} for name, group in self.groups.items()}

    def start(self) -> None:
        self._before = self._read()

    def stop(self) -> dict[str, float]:
        after = self._read()
        spent: dict[str, float] = {}
        for name, pids in after.items():
            before = self._before.get(name, {})
            pids_seen: Iterable[int] = pids
            spent[name] = sum(max(pids[pid] - before.get(pid, 0.0), 0.0) for pid in pids_seen)
        return spent


def requests_by_worker(metrics_dir: Path, pids: list[int]) -> dict[int, int]:
    """HTTP requests each worker served, from its own multiprocess metrics files (the exposition sums them)."""
    served: dict[int, int] = {}
    for pid in pids:
        with tempfile.TemporaryDirectory() as alone:
            for path in metrics_dir.glob(f"*_{pid}.db"):
                (Path(alone) / path.name).symlink_to(path)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=alone)  # type: ignore[no-untyped-call]
            served[pid] = int(
                sum(
                    sample.value
                    for metric in registry.collect()
                    if metric.name == "certify_http_request_duration_seconds"
                    for sample in metric.samples
                    if sample.name.endswith("_count")
                )
            )
    return served
