"""Issue 14's targets as printed lines: the target, the measured value, met or missed (never a failure)."""

from __future__ import annotations

from typing import Any

#: Every verdict printed in this run, recorded with the figures.
VERDICTS: list[dict[str, Any]] = []


def verdict(name: str, measured: float | None, target: str, met: bool | None, unit: str = "") -> None:
    """Print ``TARGET name: measured (target ...) met|MISSED``; ``measured=None`` says it was not measured."""
    if measured is None:
        line, state = "not measured", "not measured"
    else:
        line, state = f"{measured:,.2f}{unit}", "met" if met else "MISSED"
    print(f"   TARGET {name:<52} {line:>14}  (target {target})  {state}", flush=True)
    VERDICTS.append({"name": name, "measured": measured, "target": target, "state": state})
