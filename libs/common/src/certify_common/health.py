"""Liveness and readiness routes: ``/healthz``, ``/readyz`` and the seed's ``/health`` alias."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from certify_common.tracing import untraced

ReadinessCheck = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_S = 2.0


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

    router.add_api_route("/readyz", ready, methods=["GET"], summary="Readiness: every dependency answers")
    router.add_api_route("/health", ready, methods=["GET"], summary="Alias of /readyz kept from the seed")
    return router
