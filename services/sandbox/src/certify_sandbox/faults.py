"""Settable latency and faults, shared by every stand-in, controlled over HTTP by tests.

A plan per stand-in (``coingecko``, ``facilitator``, ``nag``, …): a fixed latency, a number of
upcoming calls to fail with an HTTP status, or to hang (a timeout seen by the client), a delay of the
answer after acting, optionally restricted to one endpoint name.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field


class FaultPlan(BaseModel):
    """What the next calls of one stand-in suffer."""

    latency_s: float = Field(0.0, ge=0, le=120)
    fail_next: int = Field(0, ge=0, description="How many upcoming calls fail with fail_status.")
    fail_status: int = Field(500, ge=400, le=599)
    hang_next: int = Field(0, ge=0, description="How many upcoming calls hang for hang_s before failing.")
    hang_s: float = Field(30.0, ge=0, le=600)
    answer_delay_s: float = Field(
        0.0,
        ge=0,
        le=120,
        description="After acting, hold the answer this long (a slow confirmation: a client that gives up or dies "
        "meanwhile loses an answer to something that happened). Honoured by the facilitator's settle.",
    )
    only_endpoint: str | None = Field(None, description="Apply only to this endpoint name.")


class Faults:
    """Fault plans and per-endpoint call counters for every stand-in."""

    def __init__(self) -> None:
        self.plans: dict[str, FaultPlan] = {}
        self.calls: Counter[str] = Counter()

    def reset(self, target: str | None = None) -> None:
        if target is None:
            self.plans.clear()
            self.calls.clear()
            return
        self.plans.pop(target, None)
        for key in [key for key in self.calls if key.startswith(target + ".")]:
            del self.calls[key]

    async def apply(self, target: str, endpoint: str) -> int | None:
        """Count the call, sleep the latency, and return an HTTP status to fail with (or None)."""
        self.calls[f"{target}.{endpoint}"] += 1
        plan = self.plans.get(target)
        if plan is None or (plan.only_endpoint and plan.only_endpoint != endpoint):
            return None
        if plan.latency_s:
            await asyncio.sleep(plan.latency_s)
        if plan.hang_next > 0:
            plan.hang_next -= 1
            await asyncio.sleep(plan.hang_s)
            return 504
        if plan.fail_next > 0:
            plan.fail_next -= 1
            return plan.fail_status
        return None

    async def hold_answer(self, target: str, endpoint: str) -> None:
        """Sleep the plan's ``answer_delay_s`` (after the stand-in acted, before it answers)."""
        plan = self.plans.get(target)
        if plan is not None and plan.answer_delay_s and plan.only_endpoint in (None, endpoint):
            await asyncio.sleep(plan.answer_delay_s)


def control_router(faults: Faults) -> APIRouter:
    """``/_control/faults/{target}`` (PUT a plan, DELETE to reset) and ``/_control/calls``."""
    router = APIRouter(prefix="/_control", tags=["control"])

    @router.put("/faults/{target}")
    async def set_plan(target: str, plan: FaultPlan) -> FaultPlan:
        faults.plans[target] = plan
        return plan

    @router.delete("/faults/{target}")
    async def reset_plan(target: str) -> dict[str, str]:
        faults.plans.pop(target, None)
        return {"status": "reset"}

    @router.get("/calls")
    async def calls() -> dict[str, int]:
        return dict(faults.calls)

    @router.post("/reset")
    async def reset_all(target: str | None = None) -> dict[str, str]:
        if target is not None and not target:
            raise HTTPException(400, "empty target")
        faults.reset(target)
        return {"status": "reset"}

    return router
