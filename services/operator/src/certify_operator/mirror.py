"""Dead letters as DeadLetter resources: what to create, delete or mark, and where a retry stands.

Pure functions (no I/O). The proxy's database queue is the source of truth; a DeadLetter is named
after its dead letter's id, so mirroring again (another replica, a restart) creates nothing twice,
and a resource whose dead letter is gone from the proxy is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from certify_operator.resources import API_VERSION, DEAD_LETTER_KIND, WALLET_KIND, WALLET_LABEL, dead_letter_name

DEAD, REQUEUED, COMPLETED, FAILED = "Dead", "Requeued", "Completed", "Failed"


@dataclass
class MirrorPlan:
    """Resources to create (bodies), to delete (names), and to mark re-queued (names)."""

    create: list[dict[str, Any]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)


def dead_letter_body(wallet: dict[str, Any], letter: dict[str, Any]) -> dict[str, Any]:
    """The DeadLetter resource of one dead letter, owned by the CertifyWallet it was mirrored for."""
    meta = wallet["metadata"]
    owner = {"apiVersion": API_VERSION, "kind": WALLET_KIND, "name": meta["name"], "uid": meta.get("uid", "")}
    return {
        "apiVersion": API_VERSION,
        "kind": DEAD_LETTER_KIND,
        "metadata": {
            "name": dead_letter_name(meta["name"], int(letter["id"])),
            "namespace": meta["namespace"],
            "labels": {WALLET_LABEL: meta["name"]},
            "ownerReferences": [owner] if owner["uid"] else [],
        },
        "spec": {
            "deadLetterId": int(letter["id"]),
            "requestId": letter.get("request_id") or "",
            "requestKey": letter.get("request_key") or "",
            "jobKind": letter["kind"],
            "reason": str(letter.get("error") or "")[:1000],
            "attempts": int(letter["attempts"]),
            "deadAt": letter.get("created_at"),
            "proxy": dict(wallet.get("spec", {}).get("proxy") or {}),
            "action": "",
        },
    }


def plan(wallet: dict[str, Any], letters: list[dict[str, Any]], existing: list[dict[str, Any]]) -> MirrorPlan:
    """Compare the proxy's dead letters with the wallet's DeadLetter resources.

    Waiting dead letters without a resource get one; resources whose dead letter the proxy no longer
    has are deleted; resources still ``Dead`` whose dead letter was re-queued elsewhere (certify-admin)
    are marked re-queued. Re-queued dead letters get no new resource (a completed one may be cleaned up).
    """
    by_id = {int(letter["id"]): letter for letter in letters}
    present = {int(item["spec"]["deadLetterId"]): item for item in existing}
    result = MirrorPlan()
    for letter_id, letter in sorted(by_id.items()):
        if letter_id not in present and not letter.get("requeued_at"):
            result.create.append(dead_letter_body(wallet, letter))
    for letter_id, item in sorted(present.items()):
        name = item["metadata"]["name"]
        if letter_id not in by_id:
            result.delete.append(name)
        elif by_id[letter_id].get("requeued_at") and (item.get("status") or {}).get("phase", DEAD) == DEAD:
            result.requeued.append(name)
    return result


def follow(request_status: str) -> str | None:
    """The phase a re-queued DeadLetter moves to once its request is final (None while it runs)."""
    return {"completed": COMPLETED, "failed": FAILED}.get(request_status)


def expired(status: dict[str, Any], ttl_s: float, now: datetime) -> bool:
    """A completed DeadLetter older than the TTL (cleaned up)."""
    if status.get("phase") != COMPLETED or not status.get("completedAt"):
        return False
    return now - datetime.fromisoformat(str(status["completedAt"])) >= timedelta(seconds=ttl_s)
