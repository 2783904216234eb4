"""Ops per second of CPU (one core) for two contenders, measured in alternating rounds, and the results file."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import percentile

ROUNDS = 5
RESULTS = Path(".bench") / "results.json"


def _rate(operation: Callable[[], object], seconds: float) -> float:
    """Calls per CPU second of this thread (a loaded machine slows the wall clock, not this)."""
    calls = 0
    start = time.thread_time()
    deadline = start + seconds
    while True:
        for _ in range(20):
            operation()
        calls += 20
        now = time.thread_time()
        if now >= deadline:
            return calls / (now - start)


def head_to_head(
    name: str,
    ours: Callable[[], object],
    theirs: Callable[[], object],
    seconds: float = 0.25,
    labels: tuple[str, str] = ("ours", "official"),
) -> dict[str, Any]:
    """Alternate rounds of both; print median ops/s per core and the ratio; return the figures."""
    ours(), theirs()  # warm caches and imports on both sides
    our_rates, their_rates = [], []
    for _ in range(ROUNDS):
        our_rates.append(_rate(ours, seconds))
        their_rates.append(_rate(theirs, seconds))
    our_rate, their_rate = percentile(our_rates, 0.5), percentile(their_rates, 0.5)
    figures = {"ours_ops_per_s": round(our_rate, 1), "theirs_ops_per_s": round(their_rate, 1)}
    figures["ratio"] = round(our_rate / their_rate, 2)
    print(
        f"   {name:<44} {labels[0]} {our_rate:8.0f} ops/s/core   {labels[1]} {their_rate:8.0f} ops/s/core   "
        f"ratio {figures['ratio']:.2f}x"
    )
    return figures


def record(section: str, figures: dict[str, Any]) -> None:
    """Merge one benchmark's figures into ``.bench/results.json`` (git-ignored)."""
    RESULTS.parent.mkdir(exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[section] = figures
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
