"""``python -m certify_operator`` as a process: it logs in with the kubeconfig, serves /healthz and /readyz once
kopf is ready and /metrics with its own series, and leaves on SIGTERM."""

from __future__ import annotations

import asyncio
import os

import httpx
import kmock
import pytest

from certify_testkit.processes import ServiceProcess

# The stack starts inside the first test of the session (several minutes on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


async def test_the_operator_process_is_healthy_against_the_api_and_exports_its_metrics(
    k8s: kmock.KubernetesEmulator,
) -> None:
    process = ServiceProcess(
        "certify_operator",
        env={
            "KUBECONFIG": os.environ["KUBECONFIG"],
            "WATCH_NAMESPACE": "certify",
            "PROXY_ADMIN_KEY": "not-used-here",
        },
    )
    try:
        # Started from a thread: the emulated API server answers from this test's event loop meanwhile.
        await asyncio.to_thread(process.start, "/healthz", 300)
        async with httpx.AsyncClient(base_url=process.url, timeout=10) as http:
            health = await http.get("/healthz")
            assert health.json() == {"status": "ok", "service": "operator"}
            assert (await http.get("/readyz")).status_code == 200
            metrics = (await http.get("/metrics")).text
        assert 'certify_operator_balance_checks_total{outcome="ok"} 0.0' in metrics
        assert 'certify_operator_dead_letter_syncs_total{outcome="failed"} 0.0' in metrics
    finally:
        await asyncio.to_thread(process.stop, 60)
    assert process.proc is not None
    assert process.proc.returncode == 0
