"""Idempotent settlement: one authorization reaches the facilitator's /settle as one payment, ever.

Under a shared lock per authorization, the first caller records the exact request body, then posts
it. Later callers get the recorded answer without a second call. When the outcome is unknown
(``settlement_pending``, a timeout, an outage) the record keeps the body and the next call
*reconciles*:

1. with an RPC URL for the network (``X402_RPC_URLS``, required in production), the chain decides
   (:mod:`certify_x402.resolution`): paid (the authorization's transfer, found by its
   ``AuthorizationUsed`` event), or never payable (expired unused at a finalized block, cancelled, or the
   nonce spent by another authorization);
2. otherwise (or while the chain cannot tell) the identical body is posted again. That is safe and is how
   the SDK's own facilitator reconciles: an EIP-3009 nonce can be used once on chain, so a re-sent
   authorization can never move money twice, and the facilitator answers a re-sent pending payload from
   its pending store (keyed by the signature) instead of broadcasting again;
3. if that answer is a refusal of any kind ("nonce already used" when an earlier attempt went through but its
   answer was lost; or the re-sent body tripping on the first transfer at a facilitator without a pending store),
   the chain is asked again and alone decides; until it can, and always without an RPC, the call stays a
   retryable ``settlement_unconfirmed``: never a refusal of a payment that may have moved, never a second payment.

A new authorization (another nonce) is never made here: only the payer can sign one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from certify_common.errors import Failure, failure
from certify_common.evm import UsdcNetwork, lookup
from certify_common.kv import LockTimeoutError
from certify_x402 import decisions
from certify_x402.chain import EvmRpc
from certify_x402.facilitator import Facilitator, request_body
from certify_x402.records import SettlementRecord, SettlementRecords, fingerprint, record_key
from certify_x402.resolution import NotPaid, Paid, resolve
from certify_x402.verification import our_reason
from certify_x402.wire import Payment


@dataclass(frozen=True)
class Settled:
    """A final, successful settle answer (the spec's object) and whether it was replayed from the record."""

    answer: dict[str, Any]
    replayed: bool


class Settlement:
    """Settles through the facilitator, remembering every authorization in shared state."""

    def __init__(
        self,
        records: SettlementRecords,
        facilitator: Facilitator,
        rpc: EvmRpc,
        clock: Callable[[], int],
        retry_after_s: int,
        lock_ttl_s: float,
        lock_wait_s: float,
    ) -> None:
        self.records = records
        self.facilitator = facilitator
        self.rpc = rpc
        self.clock = clock
        self.retry_after_s = retry_after_s
        self.lock_ttl_s = lock_ttl_s
        self.lock_wait_s = lock_wait_s

    async def known(self, network: UsdcNetwork, payment: Payment) -> SettlementRecord | None:
        """The record of this authorization, if this service ever tried to settle it."""
        auth = payment.authorization
        return await self.records.load(record_key(network, auth.from_address, auth.nonce))

    def _outcome(self, record: SettlementRecord, replayed: bool) -> Settled | Failure:
        answer = record.answer or {}
        if answer.get("success") is True:
            return Settled(answer, replayed)
        reason = str(answer.get("errorReason") or "")
        if answer.get("certifyCode"):
            # Decided from the chain: the authorization did not and can never move the money.
            return failure(
                str(answer["certifyCode"]), str(answer.get("errorMessage")), charged=False, replayed=replayed
            )
        return failure(
            our_reason(reason) if reason else "settlement_failed",
            f"the facilitator refused the settlement ({reason or 'no reason'})",
            error_reason=reason or None,
            transaction=answer.get("transaction") or None,
            replayed=replayed,
        )

    def _pending(self, record: SettlementRecord, code: str, message: str) -> Failure:
        return failure(code, message, retryable=True, retry_after=self.retry_after_s, transaction=record.transaction)

    async def settle(self, network: UsdcNetwork, payment: Payment, requirements: dict[str, Any]) -> Settled | Failure:
        """Settle a payment already verified by the caller (a replayed record needs no verification)."""
        auth = payment.authorization
        key = record_key(network, auth.from_address, auth.nonce)
        mine = fingerprint(payment, requirements)
        try:
            async with self.records.kv.lock(key, ttl_s=self.lock_ttl_s, wait_s=self.lock_wait_s):
                record = await self.records.load(key)
                if record is not None and record.fingerprint != mine:
                    return failure("nonce_already_used", "another authorization with this nonce was settled")
                if record is not None and record.state == "done":
                    return self._outcome(record, replayed=True)
                if record is None:
                    record = SettlementRecord(mine, "attempting", request_body(payment.wire, requirements))
                    await self._save(key, record, payment)
                    answer = await self.facilitator.post(network, "settle", record.body)
                    return await self._finish(key, record, payment, answer, reconciling=False)
                return await self._reconcile(key, record, network, payment)
        except LockTimeoutError:
            return failure(
                "settlement_in_progress",
                "another call is settling this authorization",
                retryable=True,
                retry_after=self.retry_after_s,
            )

    async def settle_expired(
        self, network: UsdcNetwork, payment: Payment, requirements: dict[str, Any]
    ) -> Settled | Failure:
        """An authorization past validBefore with no record here: paid if the chain shows its transfer, refused
        once the chain shows it can never be used, retryable while the chain cannot tell."""
        resolved = await resolve(self.rpc, network, payment.authorization)
        if isinstance(resolved, Failure):
            return resolved
        if resolved is None:
            return failure(
                "settlement_unconfirmed",
                "the authorization expired by this clock, not yet on chain: ask again later",
                retryable=True,
                retry_after=self.retry_after_s,
            )
        auth = payment.authorization
        key = record_key(network, auth.from_address, auth.nonce)
        record = SettlementRecord(
            fingerprint(payment, requirements), "attempting", {"paymentRequirements": requirements}
        )
        return await self._conclude(key, record, payment, resolved)

    async def _save(self, key: str, record: SettlementRecord, payment: Payment) -> None:
        if record.state == "done":
            # Concluded: the signed payload is no longer needed to reconcile, so it is not kept.
            record.body = {"paymentRequirements": record.body["paymentRequirements"]}
        await self.records.save(key, record, valid_before=payment.authorization.valid_before, now=self.clock())

    async def _reconcile(
        self, key: str, record: SettlementRecord, network: UsdcNetwork, payment: Payment
    ) -> Settled | Failure:
        if self.rpc.configured(network):
            resolved = await resolve(self.rpc, network, payment.authorization)
            if isinstance(resolved, Paid | NotPaid):
                return await self._conclude(key, record, payment, resolved)
            # Unknown on chain (or the RPC failed): the facilitator may still settle it, or answer from its store.
        answer = await self.facilitator.post(network, "settle", record.body)
        return await self._finish(key, record, payment, answer, reconciling=True)

    async def _conclude(
        self, key: str, record: SettlementRecord, payment: Payment, resolved: Paid | NotPaid
    ) -> Settled | Failure:
        """Record what the chain decided as the final answer (replayed to every later call)."""
        decisions.resolution(resolved, payment)
        network_id = record.body["paymentRequirements"].get("network")
        payer = payment.authorization.from_address
        record.state = "done"
        if isinstance(resolved, Paid):
            record.transaction = resolved.transaction
            record.answer = {
                "success": True,
                "payer": payer,
                "transaction": resolved.transaction,
                "network": network_id,
            }
        else:
            record.answer = {
                "success": False,
                "errorReason": resolved.code,
                "certifyCode": resolved.code,
                "errorMessage": resolved.message,
                "payer": payer,
                "transaction": "",
                "network": network_id,
            }
        await self._save(key, record, payment)
        return self._outcome(record, replayed=False)

    async def _found_on_chain(
        self, key: str, record: SettlementRecord, network: UsdcNetwork, payment: Payment, why: str
    ) -> Settled | Failure:
        if self.rpc.configured(network):
            resolved = await resolve(self.rpc, network, payment.authorization)
            if isinstance(resolved, Failure):
                return resolved
            if resolved is not None:
                return await self._conclude(key, record, payment, resolved)
        return self._pending(record, "settlement_unconfirmed", f"{why}; the chain does not show the outcome yet")

    async def _finish(
        self,
        key: str,
        record: SettlementRecord,
        payment: Payment,
        answer: dict[str, Any] | Failure,
        *,
        reconciling: bool,
    ) -> Settled | Failure:
        if isinstance(answer, Failure):
            # Unknown outcome: keep the record "attempting" so the next call reconciles it.
            return answer
        reason = answer.get("errorReason")
        if answer.get("success") is not True and reason == "settlement_pending":
            record.state, record.transaction = "pending", str(answer.get("transaction") or "") or record.transaction
            await self._save(key, record, payment)
            return self._pending(record, "settlement_pending", "broadcast, not confirmed yet: ask again later")
        if answer.get("success") is not True:
            network = lookup(str(record.body["paymentRequirements"].get("network")))
            nonce_used = our_reason(reason) == "nonce_already_used"
            if network is not None and (reconciling or (nonce_used and self.rpc.configured(network))):
                # An earlier attempt may have moved the money (its answer, or this service's record, was lost). A
                # refusal of the re-sent body does not say it did not: the nonce is spent, or a facilitator without
                # a pending store re-checks (or re-broadcasts) and trips on the first transfer (the balance it
                # drained, a duplicate that reverts). Only the chain tells whether this very authorization paid.
                why = (
                    "the nonce is used"
                    if nonce_used
                    else f"the facilitator refused the re-sent payment ({reason or 'no reason'})"
                )
                return await self._found_on_chain(key, record, network, payment, why)
        record.state, record.answer = "done", answer
        record.transaction = str(answer.get("transaction") or "") or record.transaction
        await self._save(key, record, payment)
        return self._outcome(record, replayed=False)
