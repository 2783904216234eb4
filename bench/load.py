"""wrk runs (closed loop, keep-alive connections) with a unique POST body per request, parsed from one JSON line.

wrk's ``done`` callback writes the counts and latency percentiles as a line starting ``JSON``; ``@ID@`` in the
body becomes unique per request: a prefix of the run, the thread's number (``setup`` gives each thread its own:
wrk's threads share one random sequence, so random numbers and the time repeat across threads, and a repeated
request id is a replay, not a new request) and a per-thread counter.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from typing import Any

CONNECTIONS = 100
#: Percentiles wrk reports for the latency chart.
PERCENTILES = (10, 25, 50, 75, 90, 95, 99, 99.9)
SCRIPT = """
counter = 0
threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
request = function()
  counter = counter + 1
  local body = string.gsub(wrk.body, "@ID@", string.format("{RUN}-%d-%d", tid, counter))
  return wrk.format("POST", nil, nil, body)
end
done = function(summary, latency, requests)
  local p = {}
  for _, q in ipairs({PERCENTILES}) do p[string.format("%g", q)] = latency:percentile(q) / 1000.0 end
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


def script(body: str) -> str:
    """The Lua script for one body: the body, the request generator and the JSON summary."""
    table = "{" + ", ".join(f"{p:g}" for p in PERCENTILES) + "}"
    generator = SCRIPT.replace("{PERCENTILES}", table).replace("{RUN}", uuid.uuid4().hex[:12])
    return f"wrk.body = {json.dumps(body)}\n" + generator


def parse(stdout: str, stderr: str = "", seconds: float = 0.0) -> dict[str, Any]:
    """The JSON line of wrk's output; no line (wrk failed) gives zero requests and its stderr."""
    line = next((line for line in stdout.splitlines() if line.startswith("JSON")), None)
    if line is None:
        return {"requests": 0, "seconds": seconds, "non2xx": 0, "errors": 0, "p_ms": {}, "stderr": stderr}
    return dict(json.loads(line[4:]))


def wrk(
    url: str, body: str, headers: dict[str, str], seconds: float, connections: int = CONNECTIONS, threads: int = 2
) -> dict[str, Any]:
    """One wrk run against ``url``; returns requests, seconds, non2xx, errors and ``p_ms`` (percentile → ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script(body))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", handle.name]
    for name, value in {"Content-Type": "application/json", **headers}.items():
        command += ["-H", f"{name}: {value}"]
    try:
        done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        os.unlink(handle.name)
    return parse(done.stdout, done.stderr, seconds)
