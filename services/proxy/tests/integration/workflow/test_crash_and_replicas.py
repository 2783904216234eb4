"""Crash safety by SIGKILL of the real proxy process at each step, and two replicas sharing one queue.

Invariants: every settled payment ends completed (or dead-lettered); the sandbox NAG accepts at most
one transaction per request; no authorization is charged twice.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid

import httpx
import pytest

from certify_testkit.processes import ServiceProcess, wait_until

pytestmark = pytest.mark.integration

ADD = "nag.Circular_AddTransaction_"


def _restart(kit, env, port) -> ServiceProcess:  # type: ignore[no-untyped-def]
    return kit.start_proxy(env, port)


def _job_progress(wf_db, request_id: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    rows = wf_db.fetch(
        "SELECT j.payload FROM jobs j JOIN certification_requests r ON j.dedupe_key = 'certify:' || r.request_key"
        " WHERE r.request_id = $1",
        request_id,
    )
    return json.loads(rows[0]["payload"]) if rows else {}


def test_killing_the_proxy_at_each_step_loses_nothing_and_certifies_once(
    wf_env, funded_wallet, kit, flow, stack, wf_db
) -> None:
    # A killed process leaves its payment lock behind until the lock's TTL ends; the write-ahead
    # reconciliation of a settlement is due after the lock plus one MCP call timeout (15 s here).
    env, port = wf_env(PAYMENT_LOCK_S="5", MCP_CALL_TIMEOUT_S="10")
    accepted_before = len(flow.nag_transactions())
    stats_url = f"{stack['sandbox'].url}/_control/usdc/stats"
    transfers_before = httpx.get(stats_url, timeout=10).json()["authorization_transfers"]
    done: list[str] = []
    proxy = kit.start_proxy(env, port)
    try:
        # 1. Killed while one transaction is Pending and another request was just answered 202:
        #    the restarted worker polls the same tx_id, and the queued job survives in the database.
        flow.nag_plan(stuck_pending=True)
        try:
            pending_id, _ = flow.pay(proxy, flow.document())
            wait_until(lambda: _job_progress(wf_db, pending_id).get("tx_id"), 30, 0.05, "the stored tx_id")
            queued_id, paid = flow.pay(proxy, flow.document())
            assert paid.status_code == 202, paid.text
            proxy.kill()
        finally:
            flow.nag_plan(stuck_pending=False)
        tx_id = _job_progress(wf_db, pending_id)["tx_id"]
        proxy = _restart(kit, env, port)
        status = flow.wait_status(proxy, pending_id, "completed")
        assert status["certification"]["tx_id"] == tx_id
        flow.wait_status(proxy, queued_id, "completed")
        done += [pending_id, queued_id]

        # 2. Killed while the NAG holds the AddTransaction answer (it accepts after the proxy died).
        adds = flow.calls().get(ADD, 0)
        flow.faults("nag", latency_s=2.5, only_endpoint="Circular_AddTransaction_")
        try:
            request_id, _ = flow.pay(proxy, flow.document())
            wait_until(lambda: flow.calls().get(ADD, 0) > adds, 30, 0.05, "the submission at the NAG")
            proxy.kill()
        finally:
            flow.faults("nag")
        assert _job_progress(wf_db, request_id).get("tx_id") is None
        proxy = _restart(kit, env, port)
        flow.wait_status(proxy, request_id, "completed")
        assert flow.calls().get(ADD, 0) == adds + 1
        done.append(request_id)

        # 3. Killed while the facilitator holds the settlement, and the client never comes back: the
        #    payment reserved before the settle call is reconciled by its job and certified; a late retry
        #    of the client settles nothing twice.
        settles = httpx.get(stats_url, timeout=10).json()["settle_calls"]
        request_id = f"wf-{uuid.uuid4().hex[:16]}"
        body = {"request_id": request_id, "data": base64.b64encode(flow.document()).decode(), "network": "base-sepolia"}
        headers = {"X-API-Key": kit.dev_key}
        offer = httpx.post(f"{proxy.url}/v1/certify", json=body, headers=headers, timeout=30)
        assert offer.status_code == 402, offer.text
        payment = kit.sign(offer.json())
        paid_headers = {**headers, "X-PAYMENT": payment}
        flow.faults("facilitator", latency_s=2.0, only_endpoint="settle")

        def pay_and_lose_the_answer() -> None:
            try:
                httpx.post(f"{proxy.url}/v1/certify", json={"request_id": request_id}, headers=paid_headers, timeout=30)
            except httpx.HTTPError:
                return

        client = threading.Thread(target=pay_and_lose_the_answer)
        client.start()
        try:
            wait_until(
                lambda: httpx.get(stats_url, timeout=10).json()["settle_calls"] > settles, 30, 0.05, "the settle call"
            )
            proxy.kill()
            client.join(30)
        finally:
            flow.faults("facilitator")
        proxy = _restart(kit, env, port)
        flow.wait_status(proxy, request_id, "completed", timeout_s=90)
        retried = httpx.post(
            f"{proxy.url}/v1/certify", json={"request_id": request_id}, headers=paid_headers, timeout=60
        )
        assert retried.status_code in (200, 202), retried.text
        done.append(request_id)
    finally:
        proxy.stop()

    tx_ids = [
        row["tx_id"]
        for row in wf_db.fetch(
            "SELECT c.tx_id FROM certifications c JOIN certification_requests r USING (request_key)"
            " WHERE r.request_id = ANY($1::text[])",
            done,
        )
    ]
    assert len(tx_ids) == len(set(tx_ids)) == len(done)
    assert len(flow.nag_transactions()) == accepted_before + len(done)
    assert httpx.get(stats_url, timeout=10).json()["authorization_transfers"] == transfers_before + len(done)


def _insert_paid_requests(database, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    ids = [f"replica-{uuid.uuid4().hex[:12]}" for _ in range(count)]
    for request_id in ids:
        digest = "0x" + uuid.uuid4().hex * 2
        database.fetch(
            "INSERT INTO certification_requests (request_key, owner, request_id, status, fingerprint, data_hash,"
            " data_size_bytes, network, client_type, public_token, created_at, updated_at) VALUES ($1, 'test', $1,"
            " 'payment_verified', $2, $3, 10, 'base-sepolia', 'agent', $4, now(), now())",
            request_id,
            digest[2:],
            digest,
            uuid.uuid4().hex,
        )
    database.fetch(
        "INSERT INTO jobs (kind, dedupe_key, payload, status, attempts, max_attempts, run_at, created_at, updated_at)"
        " SELECT 'certify', 'certify:' || id, json_build_object('request_key', id)::text, 'queued', 0, 10, now(),"
        " now(), now() FROM unnest($1::text[]) AS id",
        ids,
    )
    return ids


def test_two_proxy_processes_on_one_database_run_each_of_fifty_jobs_once(
    wf_env, funded_wallet, kit, flow, databases
) -> None:
    database = databases()
    env_a, port_a = wf_env(database.url, JOB_WORKERS="4")
    env_b, port_b = wf_env(database.url, JOB_WORKERS="4")
    first = kit.start_proxy(env_a, port_a)
    second = kit.start_proxy(env_b, port_b)
    try:
        adds, accepted = flow.calls().get(ADD, 0), len(flow.nag_transactions())
        ids = _insert_paid_requests(database, 50)

        def all_completed() -> bool:
            rows = database.fetch("SELECT count(*) AS n FROM certification_requests WHERE status = 'completed'")
            return int(rows[0]["n"]) == 50

        wait_until(all_completed, 120, 0.25, "50 certifications")
        runs = [
            line["request_id"]
            for proxy in (first, second)
            for line in flow.log_lines(proxy, "job attempt")
            if line.get("kind") == "certify"
        ]
    finally:
        first.stop()
        second.stop()
    assert sorted(runs) == sorted(ids)
    assert {proxy for proxy in (first, second) if flow.log_lines(proxy, "job attempt")} == {first, second}
    assert flow.calls().get(ADD, 0) == adds + 50
    assert len(flow.nag_transactions()) == accepted + 50
    rows = database.fetch("SELECT attempts, status FROM jobs WHERE kind = 'certify'")
    assert {(row["attempts"], row["status"]) for row in rows} == {(1, "done")}


def test_a_job_abandoned_by_a_dead_worker_is_listed_as_stuck_until_a_worker_takes_it_over(
    wf_env, funded_wallet, kit, keys, databases
) -> None:
    database = databases()
    env, port = wf_env(database.url, JOB_WORKERS="0")
    idle = kit.start_proxy(env, port)
    try:
        (request_id,) = _insert_paid_requests(database, 1)
        database.fetch(
            "UPDATE jobs SET status = 'running', attempts = 1, locked_by = 'ghost',"
            " lease_until = now() - interval '1 s'"
        )
        admin = {"X-API-Key": keys.create(database.url, True)}
        listed = httpx.get(f"{idle.url}/v1/admin/jobs/stuck", headers=admin, timeout=10)
        assert listed.status_code == 200, listed.text
        assert [(job["request_id"], job["status"], job["locked_by"]) for job in listed.json()["jobs"]] == [
            (request_id, "running", "ghost")
        ]
    finally:
        idle.stop()
    env, port = wf_env(database.url)
    worker = kit.start_proxy(env, port)
    try:
        wait_until(lambda: database.fetch("SELECT status FROM jobs")[0]["status"] == "done", 60, 0.2, "the takeover")
        assert httpx.get(f"{worker.url}/v1/admin/jobs/stuck", headers=admin, timeout=10).json()["jobs"] == []
    finally:
        worker.stop()
    rows = database.fetch("SELECT attempts FROM jobs")
    assert rows[0]["attempts"] == 2
