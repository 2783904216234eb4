"""`make demo`'s job: the local stack starts on embedded defaults, runs the demo, and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_demo_certifies_the_sample_and_leaves_no_process_behind(tmp_path: Path) -> None:
    env = {**os.environ, "CERTIFY_STACK_PORTS": "auto", "CERTIFY_STATE_DIR": str(tmp_path)}
    env.pop("CERTIFY_TEST_LOG_DIR", None)
    completed = subprocess.run(
        [sys.executable, "-m", "certify_testkit.stack", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "demo: all steps succeeded" in completed.stdout
    assert _stack_processes(tmp_path / "logs") == []
