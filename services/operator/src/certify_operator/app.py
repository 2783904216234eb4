"""Run the operator: kopf with a fresh registry, plus ``/healthz`` and ``/metrics`` on PORT.

``run(settings)`` is what ``python -m certify_operator`` calls; tests call :func:`operator_task`
themselves against an emulated Kubernetes API.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from typing import Any

import kopf
from aiohttp import web

from certify_common.metrics import render_latest
from certify_operator.context import OperatorContext
from certify_operator.handlers import register
from certify_operator.metrics import register_series
from certify_operator.settings import OperatorSettings


def kopf_settings(settings: OperatorSettings) -> kopf.OperatorSettings:
    """kopf's settings: mandatory peering with a priority per process, so of two replicas one acts and the
    other waits until the first one's peering record expires."""
    configured = kopf.OperatorSettings()
    configured.peering.name = settings.peering_name
    configured.peering.mandatory = True
    configured.peering.priority = (
        settings.peering_priority if settings.peering_priority is not None else secrets.randbelow(2**31)
    )
    configured.peering.clusterwide = not settings.watch_namespace
    configured.posting.level = 30  # Events only for warnings and above from kopf's own logging
    return configured


def build(settings: OperatorSettings) -> tuple[kopf.OperatorRegistry, OperatorContext]:
    """A registry with every handler, and the context they share."""
    registry = kopf.OperatorRegistry()
    context = OperatorContext(settings)
    register(registry, context)
    register_series()
    return registry, context


async def operator_task(
    settings: OperatorSettings,
    *,
    stop_flag: asyncio.Event | None = None,
    ready_flag: asyncio.Event | None = None,
    configure: Any = None,
) -> None:
    """Run kopf until ``stop_flag`` is set (``configure`` may adjust kopf's settings, e.g. in tests)."""
    registry, _context = build(settings)
    options = kopf_settings(settings)
    if configure is not None:
        configure(options)
    namespaces = [settings.watch_namespace] if settings.watch_namespace else []
    await kopf.operator(
        registry=registry,
        settings=options,
        clusterwide=not namespaces,
        namespaces=namespaces,
        stop_flag=stop_flag,
        ready_flag=ready_flag,
    )


def http_app(alive: asyncio.Task[None], ready: asyncio.Event) -> web.Application:
    """``/healthz`` and ``/readyz`` (200 while kopf runs and is ready) and ``/metrics``."""

    async def healthz(_request: web.Request) -> web.Response:
        ok = ready.is_set() and not alive.done()
        return web.json_response(
            {"status": "ok" if ok else "starting", "service": "operator"}, status=200 if ok else 503
        )

    async def metrics(_request: web.Request) -> web.Response:
        body, content_type = render_latest()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def serve(settings: OperatorSettings) -> None:
    """kopf and the HTTP endpoints in one event loop, until SIGTERM/SIGINT stops kopf."""
    ready, stop = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    task = asyncio.create_task(operator_task(settings, stop_flag=stop, ready_flag=ready))
    runner = web.AppRunner(http_app(task, ready), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    try:
        await task
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()
