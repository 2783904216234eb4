"""The x402 server's own record of what it decided about money: one structured log line per decision.

- ``payment verified`` / ``payment refused`` (with the reason code) for every verification;
- ``payment settled`` (with the transaction hash, and whether the answer was replayed from the record),
  ``settlement refused`` (code), ``settlement outcome unknown`` (the retryable code: pending, timeout,
  unconfirmed…), and ``settlement resolved from chain`` (paid with its transaction, or why it never can be).

Only public facts are logged: network, payer address, nonce, amount, codes and transaction hashes; never
the payment header or the signature (the JSON logs' redaction filter would mask them anyway).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from certify_common.errors import Failure
from certify_x402.resolution import NotPaid, Paid
from certify_x402.verification import Verdict
from certify_x402.wire import Payment

if TYPE_CHECKING:  # settlement logs its chain resolutions here: a runtime import would be circular
    from certify_x402.settlement import Settled

logger = logging.getLogger("certify.x402.decisions")


def _payment_fields(payment: Payment | None) -> dict[str, Any]:
    if payment is None:
        return {}
    auth = payment.authorization
    return {
        "network": payment.network_id,
        "payer": auth.from_address,
        "nonce": auth.nonce,
        "amount_atomic": str(auth.value),
    }


def verification(verdict: Verdict | Failure, payment: Payment | None) -> None:
    """Log one verification: verified, refused with its reason, or not decided (a retryable failure)."""
    fields = _payment_fields(payment)
    if isinstance(verdict, Failure):
        logger.warning(
            "payment verification failed",
            extra={**fields, "code": verdict.code, "retryable": verdict.retryable},
        )
    elif verdict.is_valid:
        logger.info("payment verified", extra=fields)
    else:
        logger.info("payment refused", extra={**fields, "code": verdict.reason})


def settlement(outcome: Settled | Failure, payment: Payment | None) -> None:
    """Log one settle call's outcome: settled (tx hash), refused (code), or unknown (retryable code)."""
    fields = _payment_fields(payment)
    if not isinstance(outcome, Failure):
        logger.info(
            "payment settled",
            extra={**fields, "transaction": outcome.answer.get("transaction"), "replayed": outcome.replayed},
        )
    elif outcome.retryable:
        logger.warning(
            "settlement outcome unknown",
            extra={**fields, "code": outcome.code, "transaction": outcome.details.get("transaction")},
        )
    else:
        logger.warning("settlement refused", extra={**fields, "code": outcome.code})


def resolution(resolved: Paid | NotPaid, payment: Payment) -> None:
    """Log what the chain decided about a settlement whose answer was unknown or lost."""
    fields = _payment_fields(payment)
    if isinstance(resolved, Paid):
        logger.info(
            "settlement resolved from chain",
            extra={**fields, "outcome": "paid", "transaction": resolved.transaction},
        )
    else:
        logger.info("settlement resolved from chain", extra={**fields, "outcome": "not_paid", "code": resolved.code})
