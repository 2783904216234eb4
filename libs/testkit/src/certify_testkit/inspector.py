"""Drive the MCP Inspector CLI (an MCP client that is not ours) against a running server."""

from __future__ import annotations

import json
import subprocess  # nosec B404  # runs the MCP Inspector CLI installed by make install
from pathlib import Path
from typing import Any


def inspector_bin() -> Path:
    """The CLI installed by scripts/install-system.sh under .tools/node."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / ".tools" / "node" / "node_modules" / ".bin" / "mcp-inspector"
        if candidate.exists():
            return candidate
    raise FileNotFoundError("mcp-inspector not installed: run `make install`")


def inspector(url: str, method: str, tool: str | None = None, args: dict[str, Any] | None = None) -> Any:
    """Run one ``--cli`` call and return its parsed JSON output."""
    command = [str(inspector_bin()), "--cli", url, "--transport", "http", "--method", method]
    if tool is not None:
        command += ["--tool-name", tool]
    for key, value in (args or {}).items():
        command += ["--tool-arg", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603  # nosec B603  # the installed Inspector binary and an argument list, no shell
    if completed.returncode != 0:
        raise RuntimeError(f"inspector failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return json.loads(completed.stdout)
