"""Every metric an alert or a dashboard panel queries is exported by the running stack (the services as
processes, the operator in this process) once one paid certification has gone through."""

from __future__ import annotations

from typing import Any

import httpx
import kmock
import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from certify_testkit.paths import repo_root
from certify_testkit.processes import ServiceProcess
from certify_testkit.promql import queried_metrics

# The stack starts inside the first test of the session (several minutes on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

#: Series other exporters provide: Prometheus itself (up) and kube-state-metrics (the HPA).
EXTERNAL = {
    "up",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
}


def sample_names(text: str) -> set[str]:
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


async def test_every_metric_an_alert_or_panel_queries_is_exported_by_the_running_stack(
    stack: dict[str, Any], k8s: kmock.KubernetesEmulator, flow: Any
) -> None:
    await flow.set_wallet_balance(stack, "100000")
    await flow.create_wallet(k8s, "metrics")
    async with flow.running_operator(stack):

        async def status(field: str) -> Any:
            return ((await flow.get(k8s, f"{flow.WALLETS_PATH}/metrics")).get("status") or {}).get(field)

        await flow.eventually(lambda: status("balance"), 60, "a first balance reading")
        request_id = await flow.paid_request(stack)
        await flow.eventually(lambda: flow.request_status(stack, request_id, "completed"), 120, "the certification")
        await flow.eventually(lambda: status("hoursToDepletion"), 60, "a burn rate from two readings")
        exported = sample_names(generate_latest(REGISTRY).decode())
        async with httpx.AsyncClient(timeout=10) as http:
            for process in stack.values():
                # The sandbox stands in for the outside world and exports nothing of ours.
                if isinstance(process, ServiceProcess) and process.module != "certify_sandbox":
                    answer = await http.get(f"{process.url}/metrics")
                    assert answer.status_code == 200, process.module
                    exported |= sample_names(answer.text)
    used = queried_metrics(repo_root())
    missing = {name: sorted(where) for name, where in used.items() if name not in exported | EXTERNAL}
    assert missing == {}
