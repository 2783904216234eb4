"""certify_data: allocate a nonce, build, sign and submit a certificate, never twice for one request.

- The wallet lock orders submissions; the nonce is ``max(api + 1, last + 1)``; on an invalid-nonce
  answer the nonce is refetched and the transaction rebuilt once.
- With an idempotency key the signed transaction is stored before it is sent; a retry looks it up
  by ID (``Circular_GetTransactionbyID_``) and only resends the same transaction when the NAG has
  never seen it.
- When the answer to a submission is lost (timeout, dropped connection, 5xx) the transaction is
  looked up by ID before anything else is decided.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from certify_circular.keys import Wallet, strip_0x
from certify_circular.metrics import SUBMISSIONS
from certify_circular.models import ExternalSignature
from certify_circular.nag import NagClient, nag_failure
from certify_circular.networks import NetworkConfig
from certify_circular.nonces import NonceAllocator
from certify_circular.submissions import Submission, SubmissionStore
from certify_circular.transaction import (
    CERTIFICATE_TYPE,
    SignedTransaction,
    build_certificate,
    certificate_payload_json,
    format_timestamp,
    iso_timestamp,
    parse_timestamp,
    text_to_hex,
    transaction_id,
    transaction_problem,
)
from certify_common.contracts.circular import Submitted
from certify_common.errors import Failure, failure, require
from certify_common.kv import LockLostError, LockTimeoutError

logger = logging.getLogger("certify.circular.certify")


def _busy(what: str) -> Failure:
    return failure("wallet_busy", f"{what} is busy; retry shortly", retryable=True, retry_after=2)


class Certifier:
    """Turns a data string into an accepted certificate transaction."""

    def __init__(
        self,
        *,
        wallet: Wallet | None,
        nag: NagClient,
        network: NetworkConfig,
        nonces: NonceAllocator,
        store: SubmissionStore,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.wallet = wallet
        self.nag = nag
        self.network = network
        self.nonces = nonces
        self.store = store
        self.now = now

    def _submitted(self, tx: SignedTransaction, data: str) -> Submitted:
        return Submitted(
            tx_id=tx.id,
            nonce=int(tx.nonce),
            timestamp=iso_timestamp(tx.timestamp),
            status="submitted",
            data_hash=data,
            network=self.network.name,
            blockchain=tx.blockchain,
        )

    async def certify(
        self, data: str, idempotency_key: str | None, external: ExternalSignature | None = None
    ) -> Submitted | Failure:
        """Submit a certificate of ``data`` (own signature, or the checked external one)."""
        if external is None and self.wallet is None:
            return failure("wallet_not_configured", "no service wallet key is configured", retryable=False)
        if idempotency_key is None:
            return await self._fresh(data, None, external)
        try:
            async with self.store.lock(idempotency_key):
                previous = await self.store.get(idempotency_key)
                if previous is None:
                    return await self._fresh(data, idempotency_key, external)
                if previous.data != data:
                    return failure(
                        "idempotency_conflict", "this idempotency_key was used for different data", retryable=False
                    )
                return await self._resume(previous, idempotency_key)
        except LockTimeoutError:
            return _busy("this idempotency_key")

    async def _fresh(self, data: str, key: str | None, external: ExternalSignature | None) -> Submitted | Failure:
        if external is not None:
            tx = await self._external_transaction(data, external)
            if isinstance(tx, Failure):
                return tx
            return await self._send_external(Submission(data, tx, True), key)
        return await self._send_own(data, key, None)

    async def _resume(self, previous: Submission, key: str) -> Submitted | Failure:
        found = await self.nag.transaction(previous.tx.id, "recovery")
        if isinstance(found, Failure):
            return found
        if found is not None:
            logger.info("idempotent retry found the transaction", extra={"tx_id": previous.tx.id})
            await self.store.mark_submitted(previous.tx.id)
            return self._submitted(previous.tx, previous.data)
        if previous.external:
            return await self._send_external(previous, key)
        return await self._send_own(previous.data, key, previous.tx)

    async def _send_own(self, data: str, key: str | None, stored: SignedTransaction | None) -> Submitted | Failure:
        wallet = require(self.wallet, "the service wallet")
        chain, address = self.network.blockchain, wallet.address
        try:
            async with self.nonces.lock(chain, address) as wallet_lock:
                api_nonce = await self.nag.wallet_nonce(address)
                if isinstance(api_nonce, Failure):
                    return api_nonce
                tx = stored
                if tx is None:
                    nonce = await self.nonces.allocate(chain, address, api_nonce)
                    tx = build_certificate(wallet, chain, data, nonce, format_timestamp(self.now()))
                for attempt in range(2):
                    wallet_lock.ensure()  # the nonce is used only while this holder still orders the wallet
                    if key is not None:
                        await self.store.put(key, Submission(data, tx, False))
                    outcome = await self._submit(tx)
                    if not isinstance(outcome, Failure):
                        return self._submitted(tx, data)
                    if outcome.details.get("type") == "INVALID_NONCE" and attempt == 0:
                        refreshed = await self.nag.wallet_nonce(address)
                        if isinstance(refreshed, Failure):
                            return refreshed
                        wallet_lock.ensure()
                        nonce = await self.nonces.realign(chain, address, refreshed)
                        logger.info("nonce refused; rebuilt", extra={"nonce": nonce})
                        tx = build_certificate(wallet, chain, data, nonce, format_timestamp(self.now()))
                        continue
                    if outcome.details.get("sent") != "maybe":
                        if not wallet_lock.lost:  # a lost lock's sequence belongs to the new holder now
                            await self.nonces.give_back(chain, address, int(tx.nonce))
                        if key is not None:
                            await self.store.forget(key)
                    return outcome
                raise AssertionError("unreachable: the loop returns")  # pragma: no cover
        except LockTimeoutError:
            return _busy("the service wallet")
        except LockLostError:
            logger.warning("wallet lock lost before the nonce was used")
            return failure("wallet_lock_lost", "the service wallet lock was lost; retry", retryable=True, retry_after=2)

    async def _submit(self, tx: SignedTransaction) -> SignedTransaction | Failure:
        """Send once; when the answer is lost, find out by ID whether the NAG took it."""
        reply = await self.nag.add_transaction(tx)
        if not isinstance(reply, Failure):
            SUBMISSIONS.labels("accepted").inc()
            await self.store.mark_submitted(tx.id)
            logger.info("transaction submitted", extra={"tx_id": tx.id, "nonce": tx.nonce})
            return tx
        if reply.details.get("sent") != "maybe":
            SUBMISSIONS.labels("rejected" if reply.details.get("sent") == "yes" else "unavailable").inc()
            logger.warning("transaction refused", extra={"tx_id": tx.id, "code": reply.code})
            return reply
        found = await self.nag.transaction(tx.id, "recovery")
        if isinstance(found, dict):
            SUBMISSIONS.labels("recovered").inc()
            await self.store.mark_submitted(tx.id)
            logger.info("lost answer; transaction found by ID", extra={"tx_id": tx.id})
            return tx
        SUBMISSIONS.labels("unknown").inc()
        logger.warning("submission outcome unknown", extra={"tx_id": tx.id, "code": reply.code})
        return reply

    async def _external_transaction(self, data: str, external: ExternalSignature) -> SignedTransaction | Failure:
        sender = strip_0x(external.from_address).lower()
        if parse_timestamp(external.timestamp) is None or len(sender) != 64:
            return failure("invalid_input", "from_address must be 64 hex and timestamp YYYY:MM:DD-hh:mm:ss")
        chain = self.network.blockchain
        payload = text_to_hex(certificate_payload_json(data))
        nonce = str(external.nonce)
        tx_id = transaction_id(chain, sender, sender, payload, nonce, external.timestamp)
        if external.tx_id is not None and strip_0x(external.tx_id).lower() != tx_id:
            return failure("invalid_transaction_id", "tx_id does not match the recomputed ID", recomputed=tx_id)
        signature = strip_0x(external.signature).lower()
        tx = SignedTransaction(
            tx_id, sender, sender, external.timestamp, payload, nonce, signature, chain, CERTIFICATE_TYPE
        )
        wallet = await self.nag.wallet(sender)
        if isinstance(wallet, Failure):
            return wallet
        problem = transaction_problem(tx, str(wallet["PublicKey"]))
        if problem is not None:
            return nag_failure(
                "invalid_signature",
                f"the externally signed transaction is not genuine: {problem}",
                type_="INVALID_SIGNATURE",
                retryable=False,
                suggestion="Sign sha256(ID text) with the sender's registered key.",
                sent="no",
            )
        return tx

    async def _send_external(self, submission: Submission, key: str | None) -> Submitted | Failure:
        if key is not None:
            await self.store.put(key, submission)
        outcome = await self._submit(submission.tx)
        if isinstance(outcome, Failure):
            if key is not None and outcome.details.get("sent") != "maybe":
                await self.store.forget(key)
            return outcome
        return self._submitted(submission.tx, submission.data)
