"""`make demo` and `make run`: the local stack certifies the sample, its proof holds up, and nothing is left behind."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from circular_enterprise_apis import helper
from ecdsa import BadSignatureError, SECP256k1, VerifyingKey
from ecdsa.util import sigdecode_der

from certify_devstack.stack import Stack, stack_env

pytestmark = pytest.mark.e2e


def _stack_processes(state_dir: Path) -> list[str]:
    """PIDs of live processes whose logs go to this stack's state folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if f"CERTIFY_TEST_LOG_DIR={state_dir}".encode() in environ:
            found.append(proc.name)
    return found


def _env(state_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CERTIFY_STACK_PORTS": "auto", "CERTIFY_STATE_DIR": str(state_dir)}
    # The embedded defaults (a SQLite file, in-process state): the case of a fresh clone.
    for name in (
        "CERTIFY_TEST_LOG_DIR",
        "DEV_API_KEY",
        "CIRCULAR_CEP_TESTNET_PRIVATE_KEY",
        "DATABASE_URL",
        "REDIS_URL",
    ):
        env.pop(name, None)
    return env


def _check_with_the_official_algorithm(proof: dict[str, Any], document: bytes) -> None:
    """Re-verify with python-ecdsa and the official Circular library's helpers, not with certify's code."""
    tx = proof["transaction"]
    preimage = (
        helper.hex_fix(tx["Blockchain"])
        + helper.hex_fix(tx["From"])
        + helper.hex_fix(tx["To"])
        + tx["Payload"]
        + tx["Nonce"]
        + tx["Timestamp"]
    )
    assert hashlib.sha256(preimage.encode()).hexdigest() == tx["ID"] == proof["certification"]["tx_id"]
    payload = json.loads(helper.hex_to_string(tx["Payload"]))
    assert payload["Action"] == "CP_CERTIFICATE"
    assert helper.hex_to_string(payload["Data"]) == hashlib.sha256(document).hexdigest() == proof["document"]["sha256"]
    assert hashlib.sha256(tx["PublicKey"].encode()).hexdigest() == tx["From"]
    key = VerifyingKey.from_string(bytes.fromhex(tx["PublicKey"][2:]), curve=SECP256k1)
    digest = hashlib.sha256(tx["ID"].encode()).digest()
    assert key.verify_digest(bytes.fromhex(tx["Signature"]), digest, sigdecode=sigdecode_der)
    with pytest.raises(BadSignatureError):
        key.verify_digest(
            bytes.fromhex(tx["Signature"]), hashlib.sha256(b"another id").digest(), sigdecode=sigdecode_der
        )


def test_demo_certifies_the_sample_and_leaves_no_process_behind(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "certify_devstack", "demo"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-3000:]
    assert "demo: all steps succeeded" in completed.stdout
    assert "VALID (offline)" in completed.stdout
    assert _stack_processes(tmp_path / "logs") == []

    document, proof_path = tmp_path / "demo" / "sample.txt", tmp_path / "demo" / "proof.json"
    proof = json.loads(proof_path.read_text())
    assert proof["format"] == "certify-proof"
    assert proof["certification"]["status"] == "Executed"
    _check_with_the_official_algorithm(proof, document.read_bytes())
    cli = [sys.executable, "-m", "certify_client.cli", "verify", str(document), str(proof_path), "--offline"]
    accepted = subprocess.run(cli, capture_output=True, text=True, timeout=60, check=False)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    document.write_bytes(document.read_bytes() + b"altered")
    rejected = subprocess.run(cli, capture_output=True, text=True, timeout=60, check=False)
    assert rejected.returncode == 1
    assert "FAIL document" in rejected.stdout


def test_ctrl_c_of_run_stops_every_process_of_the_stack(tmp_path: Path) -> None:
    run = subprocess.Popen(
        [sys.executable, "-m", "certify_devstack", "run", "--skip-demo"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so the SIGINT below reaches it as a terminal's Ctrl-C does
    )
    try:
        assert run.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "Ctrl-C stops it" in line:
                break
        output = "".join(seen)
        assert "Ctrl-C stops it" in output, output[-3000:]
        assert "development API key:" in output
        assert _stack_processes(tmp_path / "logs"), "the stack should be running"
        os.killpg(run.pid, signal.SIGINT)
        rest, _ = run.communicate(timeout=60)
        assert run.returncode == 0, output + rest
        assert "stopping" in rest
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
    assert _stack_processes(tmp_path / "logs") == []


def test_a_taken_port_is_reported_before_anything_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTIFY_STACK_PORTS", "auto")
    stack = Stack(tmp_path)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stack.ports["proxy"] = busy.getsockname()[1]
        with pytest.raises(SystemExit, match=r"port already in use \(proxy :\d+\): stop whatever listens there"):
            stack.start()
    assert stack.processes == []


def test_the_stack_runs_on_the_database_and_redis_urls_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    embedded = stack_env(tmp_path, {})
    assert embedded["DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path / 'certify.db'}"
    assert "REDIS_URL" not in embedded
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://certify@db.example:5432/certify")
    monkeypatch.setenv("REDIS_URL", "redis://cache.example:6379/0")
    wired = stack_env(tmp_path, {})
    assert wired["DATABASE_URL"] == "postgresql+asyncpg://certify@db.example:5432/certify"
    assert wired["REDIS_URL"] == "redis://cache.example:6379/0"
