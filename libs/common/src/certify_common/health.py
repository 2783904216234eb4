"""Liveness and readiness routes: ``/healthz``, ``/readyz`` and the seed's ``/health`` alias."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from certify_common.tracing import untraced

ReadinessCheck = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_S = 2.0


class Readiness(BaseModel):
    """What ``/readyz`` answers, 200 when every check passes and 503 otherwise."""

    status: str
    service: str
    checks: dict[str, bool]


_READINESS_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"model": Readiness, "description": "Every dependency answers."},
    503: {"model": Readiness, "description": "Some dependency does not answer: checks names it."},
}


async def _run_check(check: ReadinessCheck) -> bool:
    try:
        with untraced():  # probes every few seconds: their database, Redis and MCP calls are no trace
            return await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_S)
    except (TimeoutError, OSError, ConnectionError):
        return False
    except Exception:  # noqa: BLE001 - a failing dependency check means "not ready", never a 500
        return False


async def readiness(checks: Mapping[str, ReadinessCheck]) -> tuple[bool, dict[str, bool]]:
    """Run every check concurrently (each bounded by a timeout); ready when all pass."""
    names = list(checks)
    results = await asyncio.gather(*(_run_check(checks[name]) for name in names))
    report = dict(zip(names, results, strict=True))
    return all(results), report


def health_router(service: str, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    """Routes for Kubernetes probes. ``/healthz`` never touches dependencies."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    async def ready() -> JSONResponse:
        ok, report = await readiness(checks)
        body = {"status": "ready" if ok else "not_ready", "service": service, "checks": report}
        return JSONResponse(body, status_code=200 if ok else 503)

    for path, summary in (("/readyz", "Readiness: every dependency answers"), ("/health", "Alias of /readyz")):
        router.add_api_route(path, ready, methods=["GET"], summary=summary, responses=_READINESS_RESPONSES)
    return router
