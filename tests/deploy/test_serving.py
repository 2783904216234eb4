"""How the images serve: the entry point's gunicorn spreads keep-alive connections over its workers, which run
uvloop and httptools, and stops cleanly on SIGTERM. Run from this checkout's virtualenv (test_images proves the
image's own virtualenv starts the same entry point)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from certify_testkit.paths import repo_root
from certify_testkit.processes import free_port, log_dir, wait_until
from certify_testkit.sockets import LISTEN, children, loaded_libraries, sockets_by_pid

ROOT = repo_root()
WORKERS = 2
#: Keep-alive connections opened at once; all on one worker by chance: 2 × 2^-32.
CONNECTIONS = 32


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    (tmp_path / "prometheus").mkdir()
    env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "SERVICE": "qr",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(WORKERS),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "CERTIFY_ENV": "test",
    }
    log_path = log_dir() / f"serving-qr-{port}.log"
    with log_path.open("ab") as log:
        # Its own process group: the teardown ends the master and its workers together.
        proc = subprocess.Popen(
            [str(ROOT / "docker" / "entrypoint.sh")],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def every_worker_listens() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the entry point exited with {proc.returncode}; see {log_path}")
            workers = children(proc.pid)
            listening = sockets_by_pid(port, workers, LISTEN)
            return len(workers) == WORKERS and all(listening.values())

        wait_until(every_worker_listens, 60.0, interval_s=0.2, what="both gunicorn workers listening")
        yield proc, port
    finally:
        # SIGKILL to the group: a killed master would leave its workers behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def test_each_worker_listens_on_its_own_socket_and_the_master_on_none(
    two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = two_workers
    workers = children(proc.pid)
    assert sockets_by_pid(port, [proc.pid, *workers], LISTEN) == {proc.pid: 0, **dict.fromkeys(workers, 1)}


def test_keep_alive_connections_are_served_by_both_workers_on_uvloop_and_httptools(
    two_workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = two_workers
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) for _ in range(CONNECTIONS)]
    try:
        assert {client.get("/healthz").status_code for client in clients} == {200}
        workers = children(proc.pid)
        held = sockets_by_pid(port, workers)
        assert sum(held.values()) == CONNECTIONS
        assert all(count > 0 for count in held.values()), held
    finally:
        for client in clients:
            client.close()
    for worker in workers:
        libraries = " ".join(loaded_libraries(worker))
        assert "/uvloop/" in libraries, libraries
        assert "/httptools/" in libraries, libraries


def test_sigterm_stops_the_master_and_its_workers_cleanly(two_workers: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, port = two_workers
    with socket.create_connection(("127.0.0.1", port), timeout=60) as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
        assert idle.recv(64).startswith(b"HTTP/1.1 200")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
