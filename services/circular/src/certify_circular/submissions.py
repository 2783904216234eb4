"""What was submitted, remembered in the KeyValue: idempotency keys and submission times.

An idempotency key maps to the signed transaction made for it, stored *before* it is sent, so a
retry (same or another process, after a crash or a lost answer) looks the transaction up by its ID
instead of building a second one. Submission times feed the submission-to-Executed histogram,
observed once per transaction across processes.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from certify_circular.metrics import SUBMISSION_TO_EXECUTED
from certify_circular.transaction import SignedTransaction
from certify_common.kv import HeldLock, KeyValue


@dataclass(frozen=True)
class Submission:
    """The certified data string and the signed transaction made for one idempotency key."""

    data: str
    tx: SignedTransaction
    external: bool


class SubmissionStore:
    """Idempotency records and submission bookkeeping."""

    def __init__(self, kv: KeyValue, ttl_s: int, lock_ttl_s: float, lock_wait_s: float) -> None:
        self.kv = kv
        self.ttl_s = ttl_s
        self.lock_ttl_s = lock_ttl_s
        self.lock_wait_s = lock_wait_s

    @staticmethod
    def _idem(key: str) -> str:
        return "circular:idem:" + hashlib.sha256(key.encode("utf-8")).hexdigest()

    def lock(self, key: str) -> AbstractAsyncContextManager[HeldLock]:
        """One call at a time per idempotency key (renewed while held: the call may outlast the TTL)."""
        return self.kv.lock(
            self._idem(key), ttl_s=self.lock_ttl_s, wait_s=self.lock_wait_s, renew_every_s=self.lock_ttl_s / 3
        )

    async def get(self, key: str) -> Submission | None:
        raw = await self.kv.get(self._idem(key))
        if raw is None:
            return None
        record = json.loads(raw)
        return Submission(str(record["data"]), SignedTransaction.from_body(record["tx"]), bool(record["external"]))

    async def put(self, key: str, submission: Submission) -> None:
        record = {"data": submission.data, "tx": submission.tx.to_body(), "external": submission.external}
        await self.kv.set(self._idem(key), json.dumps(record), ttl_s=self.ttl_s)

    async def forget(self, key: str) -> None:
        await self.kv.delete(self._idem(key))

    async def mark_submitted(self, tx_id: str) -> None:
        """Remember when this transaction was (first) known to be accepted."""
        await self.kv.set(f"circular:submitted:{tx_id}", repr(time.time()), ttl_s=self.ttl_s, only_if_absent=True)

    async def observe_executed(self, tx_id: str) -> None:
        """Count submission-to-Executed once for a transaction this service submitted."""
        submitted = await self.kv.get(f"circular:submitted:{tx_id}")
        if submitted is None:
            return
        if await self.kv.set(f"circular:executed:{tx_id}", "1", ttl_s=self.ttl_s, only_if_absent=True):
            SUBMISSION_TO_EXECUTED.observe(max(0.0, time.time() - float(submitted)))
