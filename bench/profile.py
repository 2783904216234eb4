"""How long the benchmarks run: the full profile (``make bench``) or ``--quick`` (``make bench BENCH_ARGS=--quick``)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    rounds: int
    round_s: float
    open_loop_s: float
    single_client_s: float
    counted_requests: int
    memory_requests: int
    memory_cap_s: float
    paid_requests: int


FULL = Profile(
    rounds=2,
    round_s=8,
    open_loop_s=10,
    single_client_s=5,
    counted_requests=200,
    memory_requests=100_000,
    memory_cap_s=300,
    paid_requests=300,
)
QUICK = Profile(
    rounds=1,
    round_s=4,
    open_loop_s=4,
    single_client_s=3,
    counted_requests=50,
    memory_requests=5_000,
    memory_cap_s=20,
    paid_requests=50,
)


def current() -> Profile:
    """QUICK when ``BENCH_QUICK`` is set (``python -m bench --quick`` sets it), else FULL."""
    return QUICK if os.environ.get("BENCH_QUICK") else FULL
