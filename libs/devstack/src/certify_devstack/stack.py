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
import subprocess  # nosec B404  # starts this repository's own services, fixed argument lists
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from certify_devstack.paths import repo_root
from certify_devstack.processes import ServiceProcess, free_port


@dataclass(frozen=True)
class Service:
    name: str
    port: int

    @property
    def module(self) -> str:
        return f"certify_{self.name}"


#: Every service (start stages below: what a service calls is started before it).
SERVICES = (
    Service("sandbox", 8499),
    Service("quote", 8404),
    Service("qr", 8405),
    Service("x402", 8402),
    Service("circular", 8403),
    Service("proxy", 8080),
)
#: Networks whose sandbox RPC the x402 server and the proxy are given.
RPC_NETWORKS = ("base-sepolia", "base", "arbitrum-sepolia", "arbitrum")
#: Start stages: the sandbox first (the circular wallet is registered on it), the MCP servers together, the proxy.
STAGES = (("sandbox",), ("quote", "qr", "x402", "circular"), ("proxy",))


def available() -> list[Service]:
    """The services whose package is installed (the stack grows as services land)."""
    return [service for service in SERVICES if importlib.util.find_spec(service.module) is not None]


def assign_ports(services: list[Service]) -> dict[str, int]:
    """The default ports, or free ones when ``CERTIFY_STACK_PORTS=auto`` (tests run a stack beside others)."""
    if os.environ.get("CERTIFY_STACK_PORTS") == "auto":
        return {service.name: free_port() for service in services}
    return {service.name: service.port for service in services}


def sandbox_env(sandbox: str) -> dict[str, str]:
    """Where the servers find the outside world's stand-ins on the sandbox at ``sandbox``: CoinGecko (quote), the
    facilitator and the chains' RPC (x402: settlements whose answer was lost are resolved from the chain, as in
    production), the NAG (circular)."""
    return {
        "COINGECKO_URL": f"{sandbox}/coingecko/api/v3",
        "X402_FACILITATOR_URL": f"{sandbox}/facilitator",
        "X402_RPC_URLS": ",".join(f"{name}={sandbox}/rpc/{name}" for name in RPC_NETWORKS),
        "CIRCULAR_NAG_URL": f"{sandbox}/nag/NAG.php?cep=",
    }


def stack_env(state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    """Environment wiring every service to the sandbox and to each other: on ``DATABASE_URL`` / ``REDIS_URL``
    when they are set (PostgreSQL and Redis, as deployed), else on embedded defaults (a SQLite file in the
    state folder, in-process shared state)."""

    def url(name: str, path: str = "") -> str:
        return f"http://127.0.0.1:{ports.get(name, 0)}{path}"

    env = {
        "CERTIFY_ENV": "development",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        **sandbox_env(url("sandbox")),
        "MCP_X402_URL": url("x402", "/mcp"),
        "MCP_CIRCULAR_URL": url("circular", "/mcp"),
        "MCP_QUOTE_URL": url("quote", "/mcp"),
        "MCP_QR_URL": url("qr", "/mcp"),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{state_dir / 'certify.db'}",
        "PUBLIC_BASE_URL": url("proxy"),
        "DEV_API_KEY": dev_key(state_dir / "dev-api-key", "DEV_API_KEY"),
        # The demo waits for a certificate: poll the sandbox chain every second instead of every 5 s.
        "CERTIFY_POLL_INTERVAL_S": "1",
    }
    env["CIRCULAR_CEP_TESTNET_PRIVATE_KEY"] = dev_key(
        state_dir / "dev-circular-key", "CIRCULAR_CEP_TESTNET_PRIVATE_KEY"
    )
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    os.environ.pop("CERTIFY_LOG_FILE", None)
    return env


def dev_key(path: Path, env_name: str) -> str:
    """A development private key: from the environment, else made once and kept in the stack's state folder."""
    if os.environ.get(env_name):
        return os.environ[env_name]
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def start_timeout_s() -> float:
    """Seconds a service may take to start: 90, or ``CERTIFY_STACK_START_TIMEOUT_S`` on a loaded machine."""
    return float(os.environ.get("CERTIFY_STACK_START_TIMEOUT_S", "90"))


def _run_step(args: list[str], env: dict[str, str], what: str) -> str:
    done = subprocess.run(  # noqa: S603  # nosec B603  # fixed interpreter and module
        [sys.executable, "-m", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=max(120.0, start_timeout_s()),
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"could not {what}: {done.stderr.strip()[-500:]}")
    return done.stdout.strip()


#: CIRX the sandbox credits the circular dev wallet at start: about 25,000 certifications at the sandbox's fee (a
#: benchmark's few hundred paid submissions, or a long `make run`, never run the wallet dry).
DEV_WALLET_CIRX = "100000"


def prepare(service: Service, env: dict[str, str], sandbox_url: str) -> None:
    """What a service needs before it starts: the circular wallet registered and funded on the sandbox;
    the proxy's database migrated (``certify-admin db upgrade``, as a deployment does before its proxies)."""
    if service.name == "circular" and sandbox_url:
        args = ["certify_circular.devwallet", "--fund", DEV_WALLET_CIRX, "--sandbox-url", sandbox_url]
        wallet = _run_step(args, env, "register the circular dev wallet")
        print(f"circular dev wallet {wallet} registered and funded on the sandbox", flush=True)
    if service.name == "proxy":
        _run_step(["certify_proxy.cli", "db", "upgrade"], env, "migrate the proxy's database")
        print("proxy database migrated (certify-admin db upgrade)", flush=True)


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
        self.api_key = dev_key(state_dir / "dev-api-key", "DEV_API_KEY")
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
        for stage in STAGES:
            services = [service for service in self.services if service.name in stage]
            # A stage's services start side by side (each spends most of its start-up importing). The pool
            # is always joined, even on Ctrl-C, so stop() sees every process that was spawned.
            with ThreadPoolExecutor(max_workers=max(len(services), 1)) as pool:
                list(pool.map(lambda service: self._start_one(service, env), services))

    def _start_one(self, service: Service, env: dict[str, str]) -> None:
        prepare(service, env, self.url("sandbox") if "sandbox" in self.ports else "")
        process = ServiceProcess(service.module, env=env, port=self.ports[service.name])
        with self._lock:
            self.processes.append(process)
        print(f"starting {service.name:<9} {self.url(service.name)}  (log: {process.log_path})", flush=True)
        process.start(ready_path="/readyz" if service.name != "proxy" else "/healthz", timeout_s=start_timeout_s())

    def describe(self) -> str:
        """What `make run` prints once the stack is up: URLs, the development key, how to use them."""
        lines = ["", "the stack is running:"]
        lines += [f"  {service.name:<9} {self.url(service.name)}" for service in self.services]
        if "proxy" in self.ports:
            lines += [
                f"  API docs  {self.url('proxy', '/docs')}",
                f"  development API key: {self.api_key}",
                "",
                "try the certify command against it:",
                f"  export CERTIFY_URL={self.url('proxy')} CERTIFY_API_KEY={self.api_key}",
                "  certify quote README.md",
            ]
        endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if endpoint:
            lines += [f"traces: every service exports to {endpoint} (OTEL_* is passed to each process)"]
        lines += [f"logs: {self.state_dir / 'logs'}", "Ctrl-C stops it"]
        return "\n".join(lines)

    def watch(self, interval_s: float = 1.0) -> int:
        """Block until a service exits on its own (returns 1, naming it) or Ctrl-C/SIGTERM interrupts."""
        tick = threading.Event()  # never set: its wait is an interruptible pause
        while True:
            tick.wait(interval_s)
            for process in self.processes:
                if process.proc is not None and process.proc.poll() is not None:
                    print(f"\n{process.module} exited with status {process.proc.returncode}; see {process.log_path}")
                    return 1

    def stop(self) -> None:
        with self._lock:
            for process in reversed(self.processes):
                process.stop(timeout_s=10)
            self.processes.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack", description=__doc__)
    parser.add_argument("mode", choices=["run", "demo"])
    parser.add_argument("--skip-demo", action="store_true", help="run: start the stack without certifying the sample")
    args = parser.parse_args(argv)
    state_dir = Path(os.environ.get("CERTIFY_STATE_DIR", repo_root() / ".certify"))
    state_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(state_dir)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    # Ctrl-C stops the stack even when started from a shell that had SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        stack.start()
        from certify_devstack.demo import run_demo

        status = 0 if args.skip_demo and args.mode == "run" else run_demo(stack)
        if args.mode == "demo":
            return status
        print(stack.describe(), flush=True)
        return stack.watch() or status
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"\nthe stack did not start: {exc}", flush=True)
        return 1
    finally:
        # A second Ctrl-C must not interrupt the shutdown half-way and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


def run() -> None:
    """Console entry point (``certify-devstack run|demo``)."""
    sys.exit(main())


if __name__ == "__main__":
    run()
