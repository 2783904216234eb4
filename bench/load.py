"""wrk runs (100 keep-alive connections) with unique POST bodies, CPU time of processes from /proc."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

CONNECTIONS = 100
#: Percentiles wrk reports for the latency chart.
PERCENTILES = (50, 75, 90, 95, 99, 99.9)
_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  local body = string.gsub(wrk.body, "@ID@", string.format("%d-%d-%d", math.random(1e9), os.time(), counter))
  return wrk.format("POST", nil, nil, body)
end
done = function(summary, latency, requests)
  local p = {}
  for _, q in ipairs({PERCENTILES}) do p[tostring(q)] = latency:percentile(q) / 1000.0 end
  io.write("JSON" .. string.format('{"requests": %d, "seconds": %f, "non2xx": %d, "errors": %d, "p_ms": {',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  local first = true
  for k, v in pairs(p) do
    if not first then io.write(",") end
    io.write(string.format('"%s": %f', k, v)); first = false
  end
  io.write("}}\\n")
end
"""


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes and their live children (gunicorn/uvicorn workers), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _with_children(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _with_children(pids: list[int]) -> list[int]:
    found = list(pids)
    for pid in pids:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            continue
        found += _with_children([int(child) for child in children])
    return found


def wrk(url: str, body: str, headers: dict[str, str], seconds: int) -> dict[str, Any]:
    """One wrk run; ``@ID@`` in ``body`` becomes unique per request. Returns counts and latency percentiles."""
    script = _SCRIPT.replace("{PERCENTILES}", "{" + ", ".join(str(p) for p in PERCENTILES) + "}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(f"wrk.body = {json.dumps(body)}\n{script}")
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "-s", handle.name]
    for name, value in {"Content-Type": "application/json", **headers}.items():
        command += ["-H", f"{name}: {value}"]
    try:
        done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        os.unlink(handle.name)
    line = next((line for line in done.stdout.splitlines() if line.startswith("JSON")), None)
    if line is None:
        return {"requests": 0, "seconds": float(seconds), "non2xx": 0, "errors": 0, "p_ms": {}, "stderr": done.stderr}
    return dict(json.loads(line[4:]))
