"""Run every benchmark module (``bench/bench_*.py``, each with ``main() -> None``) and print its figures.

``python -m bench [--quick] [bench_http ...]``: ``--quick`` runs short rounds (a smoke run, noisier figures);
names pick modules. Figures go to ``.bench/results.json``, the latency chart to ``.bench/latency.png``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import time

import bench
from bench.targets import VERDICTS
from bench.timing import record


def main() -> int:
    args = sys.argv[1:]
    if "--quick" in args:
        os.environ["BENCH_QUICK"] = "1"
        args.remove("--quick")
    selected = set(args)
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_"))
    load = "load average %.2f %.2f %.2f (%d cores)"
    print(load % (*os.getloadavg(), os.cpu_count() or 0), "quick" if os.environ.get("BENCH_QUICK") else "", flush=True)
    started = time.perf_counter()
    for name in names:
        if selected and name not in selected:
            continue
        module = importlib.import_module(f"bench.{name}")
        print(f"\n== {name}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
        start = time.perf_counter()
        module.main()
        print(f"   ({time.perf_counter() - start:.1f} s; " + load % (*os.getloadavg(), os.cpu_count() or 0) + ")")
    if VERDICTS:
        print("\nissue 14's targets, as measured in this run:")
        for item in VERDICTS:
            measured = "not measured" if item["measured"] is None else f"{item['measured']:,.2f}"
            print(f"   {item['name']:<60} {measured:>14}  target {item['target']:<22} {item['state']}")
        record("targets", {"verdicts": VERDICTS, "load_average": os.getloadavg()})
    print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
