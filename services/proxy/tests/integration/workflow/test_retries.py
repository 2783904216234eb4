"""Outages after settlement: retries on the schedule, the dead-letter queue, operator re-queueing,
deferred settlements, the admin API's access rule and the CIRX balance task."""

from __future__ import annotations

import itertools
from datetime import datetime

import httpx
import pytest

from certify_testkit.processes import wait_until

pytestmark = pytest.mark.integration

RETRY_DELAYS_S = [0.1, 0.2, 0.4, 0.8, 1.2]
NONCE_ENDPOINT = "Circular_GetWalletNonce_"


def _accepted(flow) -> int:  # type: ignore[no-untyped-def]
    return len(flow.nag_transactions())


def test_the_nag_failing_after_settlement_is_retried_until_it_recovers(wf_proxy, flow) -> None:
    before = _accepted(flow)
    flow.faults("nag", fail_next=3, fail_status=503, only_endpoint=NONCE_ENDPOINT)
    try:
        request_id, paid = flow.pay(wf_proxy, flow.document())
        assert paid.status_code == 202, paid.text
        status = flow.wait_status(wf_proxy, request_id, "completed")
    finally:
        flow.faults("nag")
    assert status["certification_job"]["attempts"] == 4
    assert status["payment"]["status"] == "settled"
    assert _accepted(flow) == before + 1


def test_past_ten_attempts_the_job_is_dead_lettered_and_an_admin_requeue_completes_it(
    wf_proxy, flow, keys, wf_db
) -> None:
    flow.faults("nag", fail_next=10, fail_status=503, only_endpoint=NONCE_ENDPOINT)
    try:
        request_id, _ = flow.pay(wf_proxy, flow.document())
        failed = flow.wait_status(wf_proxy, request_id, "failed")
    finally:
        flow.faults("nag")
    assert failed["error"]["code"] == "certification_failed"
    assert failed["certification_job"]["status"] == "dead"
    assert failed["certification_job"]["attempts"] == 10

    admin = {"X-API-Key": keys.admin}
    listed = httpx.get(f"{wf_proxy.url}/v1/admin/dead-letters", headers=admin, timeout=10)
    assert listed.status_code == 200, listed.text
    letters = [row for row in listed.json()["dead_letters"] if row["request_id"] == request_id]
    assert [(row["kind"], row["attempts"]) for row in letters] == [("certify", 10)]

    # Job logs carry the request's internal key (request ids are scoped per client; the key is unique).
    attempts = [
        datetime.fromisoformat(line["started_at"])
        for line in flow.log_lines(wf_proxy, "job attempt")
        if line.get("request_id") == letters[0]["request_key"] and line.get("kind") == "certify"
    ]
    assert len(attempts) == 10
    expected = [RETRY_DELAYS_S[min(index, len(RETRY_DELAYS_S) - 1)] for index in range(9)]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= delay for gap, delay in zip(gaps, expected, strict=True)), (gaps, expected)

    assert "nag_unavailable" in letters[0]["error"] or "503" in letters[0]["error"], letters[0]["error"]

    requeued = httpx.post(f"{wf_proxy.url}/v1/admin/dead-letters/{letters[0]['id']}/requeue", headers=admin, timeout=10)
    assert requeued.status_code == 200, requeued.text
    again = httpx.post(f"{wf_proxy.url}/v1/admin/dead-letters/{letters[0]['id']}/requeue", headers=admin, timeout=10)
    assert again.status_code == 404
    completed = flow.wait_status(wf_proxy, request_id, "completed")
    assert completed["error"] is None
    assert [step["to"] for step in completed["history"]][-3:] == ["failed", "certifying", "completed"]
    rows = wf_db.fetch(
        "SELECT count(*) AS n FROM certifications JOIN certification_requests USING (request_key)"
        " WHERE request_id = $1",
        request_id,
    )
    assert rows[0]["n"] == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/admin/dead-letters"),
        ("POST", "/v1/admin/dead-letters/1/requeue"),
        ("GET", "/v1/admin/jobs/stuck"),
        ("POST", "/v1/admin/balance-check"),
    ],
)
def test_admin_endpoints_refuse_keys_that_are_not_admin(wf_proxy, keys, kit, method, path) -> None:
    for key in (keys.plain, kit.dev_key):
        answer = httpx.request(method, wf_proxy.url + path, headers={"X-API-Key": key}, timeout=10)
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "forbidden"
    assert httpx.request(method, wf_proxy.url + path, timeout=10).status_code == 401


@pytest.mark.parametrize("outage", ["facilitator_down", "settlement_pending"])
def test_a_settlement_left_unconcluded_is_retried_by_a_job_and_charges_once(wf_proxy, flow, stack, outage) -> None:
    stats_url = f"{stack['sandbox'].url}/_control/usdc/stats"
    pending_url = f"{stack['sandbox'].url}/_control/usdc/settlement-pending"
    transfers = httpx.get(stats_url, timeout=10).json()["authorization_transfers"]
    if outage == "facilitator_down":
        flow.faults("facilitator", fail_next=2, fail_status=503, only_endpoint="settle")
    else:
        httpx.put(pending_url, json={"enabled": True}, timeout=10).raise_for_status()
    try:
        request_id, paid = flow.pay(wf_proxy, flow.document())
        assert paid.status_code == 202, paid.text
        assert paid.json()["payment"]["status"] == "pending"
        assert paid.json()["error"]["retryable"] is True
        status = flow.wait_status(wf_proxy, request_id, "completed")
    finally:
        flow.faults("facilitator")
        httpx.put(pending_url, json={"enabled": False}, timeout=10).raise_for_status()
    assert status["payment"]["status"] == "settled"
    assert status["payment"]["tx_hash"]
    assert status["error"] is None
    assert httpx.get(stats_url, timeout=10).json()["authorization_transfers"] == transfers + 1


def test_the_balance_task_exports_the_gauge_and_warns_under_the_threshold(wf_proxy, keys, stack, wf_db) -> None:
    def exported() -> bool:
        text = httpx.get(f"{wf_proxy.url}/metrics", timeout=10).text
        return any(line.startswith("certify_cirx_wallet_balance ") for line in text.splitlines())

    wait_until(exported, 30, 0.2, "the balance gauge")
    report = httpx.post(f"{wf_proxy.url}/v1/admin/balance-check", headers={"X-API-Key": keys.admin}, timeout=30)
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["low"] is True
    assert body["asset"] == "CIRX"
    text = httpx.get(f"{wf_proxy.url}/metrics", timeout=10).text
    gauge = next(line for line in text.splitlines() if line.startswith("certify_cirx_wallet_balance "))
    assert float(gauge.split()[1]) > 0
    warnings = [
        line for line in wf_proxy.logs().splitlines() if "CIRX wallet balance low" in line and '"WARNING"' in line
    ]
    assert warnings
    assert '"daily_burn"' in warnings[-1]
    assert '"days_to_depletion"' in warnings[-1]
    rows = wf_db.fetch("SELECT count(*) AS n FROM wallet_balances")
    assert rows[0]["n"] >= 2
