"""The test kit's log folders: a pytest session started inside another one never clears its parent's logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_pytest_run_inside_a_session_keeps_the_sessions_service_logs(tmp_path: Path) -> None:
    parent = tmp_path / "session-1"
    parent.mkdir()
    service_log = parent / "certify_proxy-8080.log"
    service_log.write_text('{"message": "a service of the outer session is still writing here"}\n')
    (tmp_path / "test_inner.py").write_text("def test_nothing() -> None:\n    pass\n")
    env = {**os.environ, "CERTIFY_TEST_LOG_DIR": str(parent)}
    env.pop("CERTIFY_LOG_FILE", None)
    inner = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert inner.returncode == 0, inner.stdout + inner.stderr
    assert service_log.exists()
    assert [path.name for path in parent.iterdir() if path.is_dir()] != []  # the inner session's own folder
