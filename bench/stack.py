"""The stack as the images run it, for the HTTP benchmarks: every service through ``docker/entrypoint.sh``.

Each service is the image's command (gunicorn, ``certify_common.workers.UvicornWorker``, ``--reuse-port``), one
worker per MCP server and ``WEB_CONCURRENCY`` proxy workers, on PostgreSQL and Redis (a database and a key prefix
of its own, dropped afterwards). The wiring (sandbox URLs, keys, migrations, the circular dev wallet) is the
local stack's (``certify_devstack.stack``); only the command differs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.procs import requests_by_worker
from certify_devstack.processes import ServiceProcess, free_port, wait_until
from certify_devstack.stack import STAGES, Service, assign_ports, available, port_taken, prepare, stack_env
from certify_testkit.paths import repo_root
from certify_testkit.sockets import children

ENTRYPOINT = repo_root() / "docker" / "entrypoint.sh"
API_KEY = "bench-" + uuid.uuid4().hex
_BUSY_JOBS = "SELECT count(*) FROM jobs WHERE status = 'running' OR (status = 'queued' AND run_at <= now())"
#: Certification jobs not finished: running, or queued whether due now or later (a retry waits for its delay).
_CERTIFY_BACKLOG = "SELECT count(*) FROM jobs WHERE kind = 'certify' AND status IN ('queued', 'running')"
_REQUESTS_BY_STATUS = "SELECT status, count(*) FROM certification_requests GROUP BY status"


def plain_dsn(url: str) -> str:
    """asyncpg's form of a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def image_env(state_dir: Path, service: str, workers: int) -> dict[str, str]:
    """What the image adds: its service name, worker count, metrics folder and PATH to the virtualenv."""
    metrics = state_dir / f"prometheus-{service}-{uuid.uuid4().hex[:6]}"
    metrics.mkdir(parents=True)
    return {
        "SERVICE": service,
        "WEB_CONCURRENCY": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }


class BenchStack:
    """Start, restart (another proxy worker count or database URL) and stop the stack; drop its data at the end."""

    def __init__(self, state_dir: Path, database_url: str, redis_url: str) -> None:
        self.state_dir = state_dir
        self.database = f"certify_bench_{uuid.uuid4().hex[:8]}"
        self.admin_dsn = plain_dsn(database_url)
        self.database_url = database_url.rsplit("/", 1)[0] + "/" + self.database
        self.redis_url = redis_url
        self.services = available()
        os.environ["CERTIFY_STACK_PORTS"] = "auto"
        self.ports = assign_ports(self.services)
        self.processes: dict[str, ServiceProcess] = {}
        self.env: dict[str, str] = {}

    def url(self, name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def start(
        self, proxy_workers: int = 1, proxy_database_url: str | None = None, proxy_env: dict[str, str] | None = None
    ) -> None:
        """Every service; the proxy with ``proxy_workers`` workers, optionally on another database URL and with
        settings of its own (``proxy_env``, for this start only: :meth:`restart_proxy` starts it without)."""
        asyncio.run(_admin(self.admin_dsn, f'CREATE DATABASE "{self.database}"'))
        os.environ.update({"DEV_API_KEY": API_KEY, "CERTIFY_TEST_LOG_DIR": str(self.state_dir / "logs")})
        self.env = {
            **stack_env(self.state_dir, self.ports),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": f"bench-{uuid.uuid4().hex[:8]}:",
            "LOG_LEVEL": "WARNING",
            "RATE_LIMIT_WRITES_PER_MIN": "100000000",
            "RATE_LIMIT_READS_PER_MIN": "100000000",
            "RATE_LIMIT_PAID_RETRIES_PER_MIN": "100000000",
        }
        for stage in STAGES:
            for service in [service for service in self.services if service.name in stage]:
                prepare(service, self.env, self.url("sandbox"))
                if service.name == "proxy":
                    self._start(service, proxy_workers, proxy_database_url, proxy_env)
                else:
                    self._start(service, 1)

    def _start(
        self, service: Service, workers: int, database_url: str | None = None, extra: dict[str, str] | None = None
    ) -> None:
        env = {**self.env, **image_env(self.state_dir, service.name, workers), **(extra or {})}
        if database_url:
            env["DATABASE_URL"] = database_url
        process = ServiceProcess(service.module, env=env, port=self.ports[service.name], argv=[str(ENTRYPOINT)])
        self.processes[service.name] = process
        timeout_s = float(os.environ.get("CERTIFY_STACK_START_TIMEOUT_S", "300"))
        process.start(ready_path="/healthz" if service.name == "proxy" else "/readyz", timeout_s=timeout_s)
        metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])

        def every_worker_answers() -> bool:
            # Each worker binds its socket before loading the app; one answering says nothing of the others.
            # A new connection per probe lands on a worker the kernel picks.
            httpx.get(self.url(service.name, "/healthz"), timeout=30)
            served = requests_by_worker(metrics_dir, children(self.pid(service.name)))
            return len(served) == workers and all(served.values())

        wait_until(every_worker_answers, timeout_s, 0.1, f"every {service.name} worker answering")

    def restart_proxy(self, workers: int, database_url: str | None = None) -> None:
        """A new proxy (gunicorn master and ``workers`` workers), optionally on another database URL."""
        self.processes["proxy"].stop(timeout_s=30)
        wait_until(lambda: not port_taken(self.ports["proxy"]), timeout_s=30, what="the proxy's port to close")
        self._start(next(service for service in self.services if service.name == "proxy"), workers, database_url)

    def wait_jobs_done(self, timeout_s: float = 120) -> None:
        """Until no job of the proxy's queue is due or running (later ones, such as a delayed retry, may wait)."""
        wait_until(lambda: int(self._ask(_BUSY_JOBS)[0][0]) == 0, timeout_s, 0.2, "the proxy's due jobs to finish")

    def _ask(self, statement: str) -> list[Any]:
        """The rows of one statement on the proxy's database, on a connection of its own."""

        async def ask() -> list[Any]:
            connection = await asyncpg.connect(plain_dsn(self.database_url))
            try:
                return list(await connection.fetch(statement))
            finally:
                await connection.close()

        return asyncio.run(ask())

    def requests_by_status(self) -> dict[str, int]:
        """How many of the proxy's requests are in each state."""
        return {str(row[0]): int(row[1]) for row in self._ask(_REQUESTS_BY_STATUS)}

    def wait_certifications(self, timeout_s: float = 600) -> None:
        """Until no certification job is queued (due now or later) or running: each has completed or failed."""
        wait_until(lambda: int(self._ask(_CERTIFY_BACKLOG)[0][0]) == 0, timeout_s, 0.1, "the certification jobs")

    def pid(self, name: str) -> int:
        """The gunicorn master of one service (its workers are its children)."""
        proc = self.processes[name].proc
        assert proc is not None
        return proc.pid

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop(timeout_s=30)
        self.processes.clear()
        asyncio.run(_admin(self.admin_dsn, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))


class BareApp:
    """The baseline (``bench.bare_app``) under the same gunicorn worker class, one worker."""

    def __init__(self, state_dir: Path, dsn: str) -> None:
        self.port = free_port()
        self.state_dir, self.dsn = state_dir, dsn
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BareApp:
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "bench.bare_app:app",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            "1",
            "--worker-class",
            "certify_common.workers.UvicornWorker",
            "--reuse-port",
            "--log-level",
            "warning",
        ]
        log = (self.state_dir / f"bare-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(command, env={**os.environ, "BENCH_PG_DSN": self.dsn}, stdout=log, stderr=log)
        log.close()
        wait_until(self._answers, timeout_s=120, interval_s=0.2, what="the bare app")
        return self

    def _answers(self) -> bool:
        # Each worker binds before its lifespan (the pool) is up: ready once it answers.
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/openapi.json", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
