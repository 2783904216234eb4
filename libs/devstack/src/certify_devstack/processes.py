"""Run certify services as real processes on loopback, the way tests, benchmarks and `make run` see them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess  # nosec B404  # starts certify services as local processes
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port nobody listens on right now.

    Under pytest-xdist each worker takes only ports of its own share ((port // 2) mod worker count = its index;
    halved because Linux hands bind(0) even ports): two workers starting services at the same moment could
    otherwise be handed the same free port, and a test would talk to the other worker's service.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    for _ in range(10_000):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if count <= 1 or (port // 2) % count == index:
            return port
    raise RuntimeError("no free port of this worker's share")


def log_dir() -> Path:
    """Where service logs of this test run go (``CERTIFY_TEST_LOG_DIR`` or ``.test-logs``)."""
    path = Path(os.environ.get("CERTIFY_TEST_LOG_DIR", ".test-logs")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def wait_until(predicate: object, timeout_s: float, interval_s: float = 0.05, what: str = "condition") -> None:
    """Poll ``predicate()`` until it is truthy or the deadline passes (then ``TimeoutError``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


class ServiceProcess:
    """``python -m <module>`` (or ``argv``) with HOST/PORT set, logs to a file, started and stopped on demand."""

    def __init__(
        self,
        module: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        argv: list[str] | None = None,
    ) -> None:
        self.module = module
        #: The command; ``python -m <module>`` unless given (e.g. the image's entry point, which runs gunicorn).
        self.argv = argv or [sys.executable, "-m", module]
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {}), "HOST": "127.0.0.1", "PORT": str(self.port)}
        self.env.setdefault("CERTIFY_ENV", "test")
        # The process's output goes to its own file below; the test run's shared log file is for in-process code.
        self.env.pop("CERTIFY_LOG_FILE", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = log_dir() / f"{module}-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    def start(self, ready_path: str = "/healthz", timeout_s: float = 30.0) -> ServiceProcess:
        """Start the process and wait until ``ready_path`` answers 200; a running process is not started twice
        (``with ServiceProcess(...).start(timeout_s=...)`` enters the one already started)."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603  # nosec B603  # this repository's interpreter or entry point
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        self.wait_ready(ready_path, timeout_s)
        return self

    def wait_ready(self, path: str = "/healthz", timeout_s: float = 30.0) -> None:
        def answers() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}; see {self.log_path}")
            try:
                return httpx.get(self.url + path, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, timeout_s, 0.1, f"{self.module} on {self.url}{path}")

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it does not leave in time."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
