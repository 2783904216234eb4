"""The certifier's decisions when something is busy, refused or unknown, against the sandbox NAG in process:
busy locks are retryable, a definite refusal returns its nonce and forgets the idempotency key, an unknown
outcome keeps the signed transaction and a retry looks it up before resending exactly that one."""

from __future__ import annotations

import hashlib
from typing import Any

from certify_circular.certification import Certifier
from certify_circular.keys import Wallet
from certify_circular.models import ExternalSignature
from certify_circular.nag import NagClient
from certify_circular.nonces import NonceAllocator
from certify_circular.submissions import SubmissionStore
from certify_circular.transaction import build_certificate
from certify_common.errors import Failure, failure
from certify_common.kv import MemoryKeyValue

from .conftest import register_and_fund

DATA = hashlib.sha256(b"a document with an eventful submission").hexdigest()
LOCK_WAIT_S = 0.05


def _certifier(stand: Any, *, wallet: Wallet | None = None, nag: NagClient | None = None) -> Certifier:
    """A certifier on the stand's NAG whose locks are given up after LOCK_WAIT_S."""
    parts = stand.service.parts
    kv = MemoryKeyValue("certifier")
    return Certifier(
        wallet=wallet if wallet is not None else stand.service.wallet,
        nag=nag or parts.nag,
        network=parts.network,
        nonces=NonceAllocator(kv, 5.0, LOCK_WAIT_S),
        store=SubmissionStore(kv, 3600, 5.0, LOCK_WAIT_S),
    )


async def _fault(stand: Any, endpoint: str, status: int, times: int = 1) -> None:
    plan = {"fail_next": times, "fail_status": status, "only_endpoint": endpoint}
    (await stand.sandbox.put("/_control/faults/nag", json=plan)).raise_for_status()


async def _transactions(stand: Any, address: str) -> list[dict[str, Any]]:
    rows = (await stand.sandbox.get("/_control/nag/transactions", params={"address": address})).json()
    return [row for row in rows if row["nonce"] != "0"]  # the wallet's registration is nonce 0


async def test_without_a_service_wallet_only_externally_signed_certificates_are_accepted(stand: Any) -> None:
    certifier = _certifier(stand)
    certifier.wallet = None
    refused = await certifier.certify(DATA, "k")
    assert isinstance(refused, Failure)
    assert (refused.code, refused.retryable) == ("wallet_not_configured", False)
    assert (await stand.calls()) == {}


async def test_an_idempotency_key_being_submitted_elsewhere_answers_busy_and_sends_nothing(stand: Any) -> None:
    certifier = _certifier(stand)
    async with certifier.store.lock("k"):
        busy = await certifier.certify(DATA, "k")
    assert isinstance(busy, Failure)
    assert (busy.code, busy.retryable, busy.retry_after) == ("wallet_busy", True, 2)
    assert "idempotency_key" in busy.message
    assert "nag.Circular_AddTransaction_" not in await stand.calls()


async def test_a_service_wallet_busy_with_another_submission_answers_busy_and_sends_nothing(stand: Any) -> None:
    certifier = _certifier(stand)
    async with certifier.nonces.lock(certifier.network.blockchain, stand.service.wallet.address):
        busy = await certifier.certify(DATA, None)
    assert isinstance(busy, Failure)
    assert (busy.code, busy.retryable) == ("wallet_busy", True)
    assert "service wallet" in busy.message
    assert "nag.Circular_AddTransaction_" not in await stand.calls()


async def test_a_definite_refusal_gives_the_nonce_back_and_forgets_the_idempotency_key(stand: Any) -> None:
    certifier = _certifier(stand)
    first = await certifier.certify(DATA, None)
    assert not isinstance(first, Failure)
    await _fault(stand, "Circular_AddTransaction_", 400)  # a 4xx: the NAG answered, it took nothing

    refused = await certifier.certify(DATA, "k")

    assert isinstance(refused, Failure)
    assert refused.details["sent"] == "yes"
    assert await certifier.store.get("k") is None
    retried = await certifier.certify(DATA, "k")
    assert not isinstance(retried, Failure)
    assert retried.nonce == first.nonce + 1, "the refused nonce was given back and used by the retry"
    # ... at once: a nonce kept would have been refused by the NAG (INVALID_NONCE) and the retry sent twice.
    assert (await stand.calls())["nag.Circular_AddTransaction_"] == 3
    assert [row["nonce"] for row in await _transactions(stand, stand.service.wallet.address)] == ["1", "2"]


async def test_an_unknown_outcome_is_looked_up_on_retry_and_only_that_transaction_is_resent(stand: Any) -> None:
    certifier = _certifier(stand)
    await _fault(stand, "Circular_AddTransaction_", 503)  # the answer is lost; the lookup then finds nothing
    unknown = await certifier.certify(DATA, "k")
    assert isinstance(unknown, Failure)
    assert unknown.details["sent"] == "maybe"
    stored = await certifier.store.get("k")
    assert stored is not None

    await _fault(stand, "Circular_GetTransactionbyID_", 503)  # the lookup itself fails: nothing is resent
    lookup_failed = await certifier.certify(DATA, "k")
    assert isinstance(lookup_failed, Failure)
    assert lookup_failed.code == "nag_unavailable"
    assert await _transactions(stand, stand.service.wallet.address) == []

    resent = await certifier.certify(DATA, "k")
    assert not isinstance(resent, Failure)
    assert resent.tx_id == stored.tx.id
    assert len(await _transactions(stand, stand.service.wallet.address)) == 1


class FailingSecondNonceLookup(NagClient):
    """The NAG answers the first nonce lookup, then is unreachable for the rest."""

    lookups = 0

    async def wallet_nonce(self, address: str) -> int | Failure:
        self.lookups += 1
        if self.lookups == 1:
            return await super().wallet_nonce(address)
        return failure("nag_unavailable", "unreachable", retryable=True, sent="no")


async def test_a_refused_nonce_whose_refresh_fails_sends_nothing_more(stand: Any) -> None:
    parts = stand.service.parts
    nag = FailingSecondNonceLookup(parts.nag.http, parts.nag.base_url, parts.nag.blockchain, parts.nag.timeout_s)
    certifier = _certifier(stand, nag=nag)
    address = stand.service.wallet.address
    await certifier.nonces.allocate(certifier.network.blockchain, address, 40)  # a stale "last" far ahead

    failed = await certifier.certify(DATA, "k")

    assert isinstance(failed, Failure)
    assert failed.code == "nag_unavailable"
    assert nag.lookups == 2
    assert (await stand.calls())["nag.Circular_AddTransaction_"] == 1
    assert await _transactions(stand, address) == []


async def _external(stand: Any, data: str = DATA, timestamp: str = "2025:01:01-00:00:00") -> ExternalSignature:
    signer = Wallet.from_hex("2b" * 32)
    await register_and_fund(stand.sandbox, signer)
    await stand.sandbox.post("/_control/reset", params={"target": "nag"})  # count only the certifier's calls
    tx = build_certificate(signer, stand.service.parts.network.blockchain, data, 1, "2025:01:01-00:00:00")
    return ExternalSignature(from_address=signer.address, nonce=1, timestamp=timestamp, signature=tx.signature)


async def test_an_external_signature_with_a_malformed_timestamp_is_invalid_input_before_any_nag_call(
    stand: Any,
) -> None:
    certifier = _certifier(stand)
    external = await _external(stand, timestamp="2025-01-01T00:00:00Z")
    refused = await certifier.certify(DATA, None, external)
    assert isinstance(refused, Failure)
    assert refused.code == "invalid_input"
    assert (await stand.calls()) == {}


async def test_an_external_signature_whose_signer_cannot_be_read_is_not_submitted(stand: Any) -> None:
    certifier = _certifier(stand)
    external = await _external(stand)
    await _fault(stand, "Circular_GetWallet_", 503)
    failed = await certifier.certify(DATA, "k", external)
    assert isinstance(failed, Failure)
    assert failed.code == "nag_unavailable"
    assert "nag.Circular_AddTransaction_" not in await stand.calls()
    assert await certifier.store.get("k") is None


async def test_an_externally_signed_submission_with_an_unknown_outcome_is_resent_unchanged(stand: Any) -> None:
    certifier = _certifier(stand)
    external = await _external(stand)
    await _fault(stand, "Circular_AddTransaction_", 503)
    unknown = await certifier.certify(DATA, "k", external)
    assert isinstance(unknown, Failure)
    stored = await certifier.store.get("k")
    assert stored is not None
    assert stored.external

    resent = await certifier.certify(DATA, "k", external)

    assert not isinstance(resent, Failure)
    assert resent.tx_id == stored.tx.id
    assert len(await _transactions(stand, external.from_address)) == 1


async def test_an_externally_signed_submission_refused_outright_forgets_its_idempotency_key(stand: Any) -> None:
    certifier = _certifier(stand)
    external = await _external(stand)
    await _fault(stand, "Circular_AddTransaction_", 400)
    refused = await certifier.certify(DATA, "k", external)
    assert isinstance(refused, Failure)
    assert refused.details["sent"] == "yes"
    assert await certifier.store.get("k") is None
