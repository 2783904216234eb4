"""Reading transactions back: status (optionally waiting for finality) and wallet reads."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from certify_circular.nag import NagClient, nag_failure
from certify_circular.submissions import SubmissionStore
from certify_common.contracts.circular import TransactionStatus
from certify_common.errors import Failure

logger = logging.getLogger("certify.circular.status")
FINAL_STATUSES = frozenset({"Executed"})


def not_found(tx_id: str) -> Failure:
    return nag_failure(
        "transaction_not_found",
        f"the NAG does not know transaction {tx_id} (yet)",
        type_="TRANSACTION_NOT_FOUND",
        retryable=True,
        suggestion="A transaction just submitted may take a moment to appear; check the tx_id and chain.",
        http_status=200,
        result_code=200,
    )


def status_of(tx_id: str, record: dict[str, Any]) -> TransactionStatus:
    status = str(record.get("Status", ""))
    block = record.get("BlockID")
    return TransactionStatus(
        tx_id=tx_id,
        status=status,
        block_id=str(block) if block not in (None, "") else None,
        final=status in FINAL_STATUSES,
    )


class StatusReader:
    """``get_transaction_status``: one read, or polls every ``poll_interval_s`` until final or the deadline."""

    def __init__(self, nag: NagClient, store: SubmissionStore, poll_interval_s: float, max_wait_s: float) -> None:
        self.nag = nag
        self.store = store
        self.poll_interval_s = poll_interval_s
        self.max_wait_s = max_wait_s

    async def status(self, tx_id: str, wait_seconds: float) -> TransactionStatus | Failure:
        wait = min(max(wait_seconds, 0.0), self.max_wait_s)
        deadline = time.monotonic() + wait
        max_polls = 1 + math.ceil(wait / self.poll_interval_s)
        result: TransactionStatus | Failure = not_found(tx_id)
        for _ in range(max_polls):
            record = await self.nag.transaction(tx_id, "status")
            if isinstance(record, Failure):
                return record
            if record is not None:
                result = status_of(tx_id, record)
                if result.final:
                    await self.store.observe_executed(tx_id)
                    logger.info("transaction final", extra={"tx_id": tx_id, "status": result.status})
                    return result
            remaining = deadline - time.monotonic()
            if remaining < self.poll_interval_s:
                break
            await asyncio.sleep(self.poll_interval_s)
        if isinstance(result, TransactionStatus):
            logger.info("transaction not final yet", extra={"tx_id": tx_id, "status": result.status})
        return result
