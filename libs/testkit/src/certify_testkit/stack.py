"""The local stack behind `make run` and `make demo`: every service as a process on embedded defaults.

SQLite instead of PostgreSQL, in-process caches instead of Redis, the sandbox instead of the outside
world. `run` starts everything, runs the demo job once and keeps the stack up until Ctrl-C; `demo` runs
the job and exits with its status. Either way every process it started is stopped on the way out.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from certify_testkit.paths import repo_root
from certify_testkit.processes import ServiceProcess, free_port


@dataclass(frozen=True)
class Service:
    name: str
    port: int

    @property
    def module(self) -> str:
        return f"certify_{self.name}"


#: Start order: what a service calls is started before it.
SERVICES = (
    Service("sandbox", 8499),
    Service("quote", 8404),
    Service("qr", 8405),
    Service("x402", 8402),
    Service("circular", 8403),
    Service("proxy", 8080),
)


def available() -> list[Service]:
    """The services whose package is installed (the stack grows as services land)."""
    return [service for service in SERVICES if importlib.util.find_spec(service.module) is not None]


def assign_ports(services: list[Service]) -> dict[str, int]:
    """The default ports, or free ones when ``CERTIFY_STACK_PORTS=auto`` (tests run a stack beside others)."""
    if os.environ.get("CERTIFY_STACK_PORTS") == "auto":
        return {service.name: free_port() for service in services}
    return {service.name: service.port for service in services}


def stack_env(state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """Environment wiring every service to the sandbox and to each other on embedded defaults."""

    def url(name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{ports.get(name, 0)}{path}"

    sandbox = url("sandbox")
    env = {
        "CERTIFY_ENV": "development",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "COINGECKO_URL": f"{sandbox}/coingecko/api/v3",
        "X402_FACILITATOR_URL": f"{sandbox}/facilitator",
        "CIRCULAR_NAG_URL": f"{sandbox}/nag/NAG.php?cep=",
        "MCP_X402_URL": url("x402", "/mcp"),
        "MCP_CIRCULAR_URL": url("circular", "/mcp"),
        "MCP_QUOTE_URL": url("quote", "/mcp"),
        "MCP_QR_URL": url("qr", "/mcp"),
        "DATABASE_URL": f"sqlite+aiosqlite:///{state_dir / 'certify.db'}",
    }
    env["CIRCULAR_CEP_TESTNET_PRIVATE_KEY"] = dev_key(
        state_dir / "dev-circular-key", "CIRCULAR_CEP_TESTNET_PRIVATE_KEY"
    )
    for name in ("REDIS_URL", "CERTIFY_LOG_FILE"):
        os.environ.pop(name, None)
    return env


def dev_key(path: Path, env_name: str) -> str:
    """A development private key: from the environment, else made once and kept in the stack's state folder."""
    if os.environ.get(env_name):
        return os.environ[env_name]
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def prepare(service: Service, env: dict[str, str], sandbox_url: str) -> None:
    """What a service needs before it starts on the sandbox (the circular wallet registered and funded)."""
    if service.name == "circular":
        done = subprocess.run(  # noqa: S603 - fixed interpreter and module
            [sys.executable, "-m", "certify_circular.devwallet", "--fund", "1000", "--sandbox-url", sandbox_url],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"could not register the circular dev wallet: {done.stderr.strip()[-500:]}")
        print(f"circular dev wallet {done.stdout.strip()} registered and funded on the sandbox", flush=True)


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    """Starts and stops the processes; safe to stop twice, from a signal handler or on exit."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.processes: list[ServiceProcess] = []
        self.services = available()
        self.ports = assign_ports(self.services)
        self._lock = threading.Lock()

    def url(self, name: str, path: str = "") -> str:
        """Base URL (plus path) of one service of this stack."""
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def start(self) -> None:
        taken = [name for name, port in self.ports.items() if port_taken(port)]
        if taken:
            names = ", ".join(f"{name} :{self.ports[name]}" for name in taken)
            raise SystemExit(f"port already in use ({names}): stop whatever listens there, then try again")
        os.environ["CERTIFY_TEST_LOG_DIR"] = str(self.state_dir / "logs")
        env = stack_env(self.state_dir, self.ports)
        for service in self.services:
            if "sandbox" in self.ports:
                prepare(service, env, self.url("sandbox"))
            process = ServiceProcess(service.module, env=env, port=self.ports[service.name])
            self.processes.append(process)
            print(f"starting {service.name:<9} {self.url(service.name)}  (log: {process.log_path})", flush=True)
            process.start(ready_path="/readyz" if service.name != "proxy" else "/healthz", timeout_s=60)

    def stop(self) -> None:
        with self._lock:
            for process in reversed(self.processes):
                process.stop(timeout_s=10)
            self.processes.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack", description=__doc__)
    parser.add_argument("mode", choices=["run", "demo"])
    args = parser.parse_args(argv)
    state_dir = Path(os.environ.get("CERTIFY_STATE_DIR", repo_root() / ".certify"))
    state_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(state_dir)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        from certify_testkit.demo import run_demo

        status = run_demo(stack)
        if args.mode == "demo":
            return status
        print("\nthe stack is running; Ctrl-C stops it", flush=True)
        threading.Event().wait()
        return status
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
