"""Percentiles and a one-line report, shared by the benchmarks."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of samples (seconds in, seconds out)."""
    ordered = sorted(samples)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[index]


def report(name: str, samples_s: list[float], wall_s: float | None = None) -> str:
    """``name: n, p50, p95, p99 (ms), throughput`` as one printable line."""
    ms = [sample * 1000 for sample in samples_s]
    line = (
        f"{name:<48} n={len(ms):<5} p50={percentile(ms, 0.50):8.2f} ms  p95={percentile(ms, 0.95):8.2f} ms  "
        f"p99={percentile(ms, 0.99):8.2f} ms  mean={statistics.fmean(ms):8.2f} ms"
    )
    if wall_s:
        line += f"  throughput={len(ms) / wall_s:8.1f}/s"
    return line
