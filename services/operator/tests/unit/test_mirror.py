"""Mirroring the dead-letter queue as DeadLetter resources (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from certify_operator.mirror import COMPLETED, FAILED, REQUEUED, dead_letter_body, expired, follow, plan

WALLET = {
    "metadata": {"name": "main", "namespace": "certify", "uid": "u-1"},
    "spec": {"proxy": {"adminUrl": "http://p"}},
}
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def letter(letter_id: int, requeued: bool = False) -> dict[str, Any]:
    return {
        "id": letter_id,
        "kind": "certify",
        "request_id": f"r-{letter_id}",
        "request_key": f"k-{letter_id}",
        "error": "nag_unavailable: 503",
        "attempts": 10,
        "created_at": "2026-11-29T10:00:00+00:00",
        "requeued_at": "2026-11-29T11:00:00+00:00" if requeued else None,
    }


def test_a_dead_letter_resource_is_named_after_its_id_owned_by_the_wallet_and_carries_the_facts() -> None:
    body = dead_letter_body(WALLET, letter(7))
    assert body["metadata"]["name"] == "main-dl-7"
    assert body["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert body["metadata"]["labels"] == {"ops.certify.dev/wallet": "main"}
    assert body["spec"] == {
        "deadLetterId": 7,
        "requestId": "r-7",
        "requestKey": "k-7",
        "jobKind": "certify",
        "reason": "nag_unavailable: 503",
        "attempts": 10,
        "deadAt": "2026-11-29T10:00:00+00:00",
        "proxy": {"adminUrl": "http://p"},
        "action": "",
    }


def test_mirroring_creates_missing_ones_only_deletes_vanished_ones_and_marks_outside_requeues() -> None:
    existing = [
        dead_letter_body(WALLET, letter(1)),
        dead_letter_body(WALLET, letter(2)),
        dead_letter_body(WALLET, letter(9)),
    ]
    result = plan(WALLET, [letter(1), letter(2, requeued=True), letter(3), letter(4, requeued=True)], existing)
    assert [item["metadata"]["name"] for item in result.create] == ["main-dl-3"]
    assert result.delete == ["main-dl-9"]
    assert result.requeued == ["main-dl-2"]


def test_mirroring_twice_plans_nothing_the_second_time() -> None:
    letters = [letter(1), letter(2)]
    first = plan(WALLET, letters, [])
    second = plan(WALLET, letters, first.create)
    assert (second.create, second.delete, second.requeued) == ([], [], [])


def test_a_requeued_dead_letter_follows_its_request_and_a_completed_one_expires_after_the_ttl() -> None:
    assert follow("certifying") is None
    assert follow("completed") == COMPLETED
    assert follow("failed") == FAILED
    done = {"phase": COMPLETED, "completedAt": (NOW - timedelta(hours=2)).isoformat()}
    assert expired(done, 3600, NOW)
    assert not expired(done, 3 * 3600, NOW)
    assert not expired({"phase": REQUEUED}, 0, NOW)
