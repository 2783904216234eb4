"""verify and settle decide from scripted chain, facilitator and settlement answers: an outage of any of them is
a failure (never a verdict), a verdict from the chain or the facilitator is reported with our codes, and nothing
is settled that was not checked. Then the offline checks the SDK vectors do not reach."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account

from certify_common.errors import Failure, failure
from certify_common.evm import NETWORKS
from certify_x402.payments import Checked, Payments
from certify_x402.requirements import build_offer
from certify_x402.settlement import Settled
from certify_x402.verification import check_payment, domain_of
from certify_x402.wire import decode_header, parse_requirements

from .conftest import make_settings

NETWORK = NETWORKS["base-sepolia"]
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
RPC_DOWN = failure("rpc_unavailable", "the RPC answered 503", retryable=True)
SETTLED = Settled({"success": True, "transaction": "0x" + "ab" * 32}, replayed=False)


class ScriptedRpc:
    """EvmRpc's checks answered from a script (a value or a Failure per method), recording the calls."""

    def __init__(self, configured: bool = True, **answers: Any) -> None:
        self.is_configured = configured
        self.answers = {"has_code": False, "payer_state": (False, 10**9), **answers}
        self.calls: list[str] = []

    def configured(self, network: Any) -> bool:
        return self.is_configured

    async def _answer(self, method: str) -> Any:
        self.calls.append(method)
        return self.answers[method]

    async def has_code(self, network: Any, address: str) -> Any:
        return await self._answer("has_code")

    async def eip1271_valid(self, network: Any, wallet: str, digest: str, signature: str) -> Any:
        return await self._answer("eip1271_valid")

    async def payer_state(self, network: Any, authorizer: str, nonce: str) -> Any:
        return await self._answer("payer_state")


class ScriptedFacilitator:
    def __init__(self, answer: dict[str, Any] | Failure) -> None:
        self.answer = answer
        self.posted: list[str] = []

    async def post(self, network: Any, endpoint: str, body: dict[str, Any]) -> dict[str, Any] | Failure:
        self.posted.append(endpoint)
        return self.answer


class RecordingSettlement:
    """Nothing settled yet; every settle call is recorded and answered as settled."""

    def __init__(self) -> None:
        self.settled: list[str] = []

    async def known(self, network: Any, payment: Any) -> None:
        return None

    async def settle(self, network: Any, payment: Any, requirements: dict[str, Any]) -> Settled:
        self.settled.append("settle")
        return SETTLED

    async def settle_expired(self, network: Any, payment: Any, requirements: dict[str, Any]) -> Settled:
        self.settled.append("settle_expired")
        return SETTLED


def _payments(
    rpc: ScriptedRpc, facilitator: ScriptedFacilitator | None = None, **settings: Any
) -> tuple[Payments, RecordingSettlement]:
    settlement = RecordingSettlement()
    made = Payments(
        make_settings(**settings),
        settlement,  # type: ignore[arg-type]
        facilitator or ScriptedFacilitator(failure("unexpected", "the facilitator must not be asked")),  # type: ignore[arg-type]
        rpc,  # type: ignore[arg-type]
        lambda: int(time.time()),
    )
    return made, settlement


def _offer(**changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(PaymentRequired v2, its requirements) on base-sepolia, with requirement fields changed."""
    offer = build_offer(
        network_name="base-sepolia",
        enabled=list(NETWORKS),
        amount_atomic=30000,
        pay_to=PAY_TO,
        resource="https://certify.test/v1/certify/r1",
        description="certification",
        mime_type="application/json",
        max_timeout_seconds=300,
    )
    assert not isinstance(offer, Failure)
    requirements = {**offer.requirements_v2, **changes}
    return {**offer.payment_required_v2, "accepts": [requirements]}, requirements


def _forged(header: str) -> str:
    """The same payment with another signer's signature: it recovers to someone else."""
    obj = json.loads(base64.b64decode(header))
    obj["payload"]["authorization"]["from"] = Account.create().address
    return base64.b64encode(json.dumps(obj).encode()).decode()


async def test_a_signature_of_someone_else_from_a_plain_account_stays_invalid(pay: Callable[..., str]) -> None:
    required, requirements = _offer()
    rpc = ScriptedRpc(has_code=False)
    payments, _ = _payments(rpc)
    checked = await payments.verify(_forged(pay(required)), requirements)
    assert isinstance(checked, Checked)
    assert (checked.verdict.is_valid, checked.verdict.reason) == (False, "invalid_signature")
    assert rpc.calls == ["has_code"]


async def test_a_chain_that_cannot_say_whether_the_signer_is_a_smart_wallet_is_an_outage(
    pay: Callable[..., str],
) -> None:
    required, requirements = _offer()
    payments, settlement = _payments(ScriptedRpc(has_code=RPC_DOWN))
    forged = _forged(pay(required))
    assert await payments.verify(forged, requirements) == RPC_DOWN
    assert await payments.settle(forged, requirements) == RPC_DOWN
    assert settlement.settled == []


async def test_an_rpc_outage_during_the_on_chain_checks_is_an_outage_not_a_verdict(pay: Callable[..., str]) -> None:
    required, requirements = _offer()
    rpc = ScriptedRpc(payer_state=RPC_DOWN)
    payments, _ = _payments(rpc)
    assert await payments.verify(pay(required), requirements) == RPC_DOWN
    assert rpc.calls == ["payer_state"]


@pytest.mark.parametrize(
    ("state", "reason"), [((True, 0), "nonce_already_used"), ((False, 29_999), "insufficient_funds")]
)
async def test_the_chain_refuses_a_spent_authorization_first_then_a_short_balance(
    pay: Callable[..., str], state: tuple[bool, int], reason: str
) -> None:
    required, requirements = _offer()  # 30,000 atomic units
    rpc = ScriptedRpc(payer_state=state)
    payments, _ = _payments(rpc)
    checked = await payments.verify(pay(required), requirements)
    assert isinstance(checked, Checked)
    assert (checked.verdict.is_valid, checked.verdict.reason) == (False, reason)
    assert rpc.calls == ["payer_state"]  # both read in one batch request


@pytest.mark.parametrize(
    ("answer", "valid", "reason"),
    [
        ({"isValid": True}, True, None),
        ({"isValid": False, "invalidReason": "invalid_exact_evm_insufficient_balance"}, False, "insufficient_funds"),
        ({"isValid": False, "invalidReason": "something_new"}, False, "facilitator_rejected"),
        ({"isValid": False}, False, "facilitator_rejected"),
    ],
)
async def test_a_delegated_verification_reports_the_facilitators_verdict_in_our_codes(
    pay: Callable[..., str], answer: dict[str, Any], valid: bool, reason: str | None
) -> None:
    required, requirements = _offer()
    facilitator = ScriptedFacilitator(answer)
    payments, _ = _payments(ScriptedRpc(configured=False), facilitator, x402_verify_with_facilitator=True)
    checked = await payments.verify(pay(required), requirements)
    assert isinstance(checked, Checked)
    assert (checked.verdict.is_valid, checked.verdict.reason) == (valid, reason)
    assert facilitator.posted == ["verify"]


async def test_a_facilitator_outage_during_a_delegated_verification_is_an_outage(pay: Callable[..., str]) -> None:
    required, requirements = _offer()
    down = failure("facilitator_unavailable", "503", retryable=True)
    payments, _ = _payments(ScriptedRpc(configured=False), ScriptedFacilitator(down), x402_verify_with_facilitator=True)
    assert await payments.verify(pay(required), requirements) == down


async def test_a_payment_that_passes_every_check_is_settled_once(pay: Callable[..., str]) -> None:
    required, requirements = _offer()
    payments, settlement = _payments(ScriptedRpc())
    assert await payments.settle(pay(required), requirements) == SETTLED
    assert settlement.settled == ["settle"]


def _judged(header: str, requirements: dict[str, Any], now: int | None = None) -> tuple[bool, str | None]:
    payment, requirement = decode_header(header), parse_requirements(requirements)
    assert not isinstance(payment, Failure)
    assert not isinstance(requirement, Failure)
    verdict = check_payment(payment, requirement, now or int(time.time()))
    return verdict.is_valid, verdict.reason


def test_requirements_of_another_scheme_are_refused_as_unsupported(pay: Callable[..., str]) -> None:
    required, requirements = _offer()
    assert _judged(pay(required), {**requirements, "scheme": "upto"}) == (False, "unsupported_scheme")


def test_requirements_without_the_eip712_domain_are_refused_and_name_no_domain(pay: Callable[..., str]) -> None:
    required, requirements = _offer()
    bare = {**requirements, "extra": {"version": "2"}}
    assert _judged(pay(required), bare) == (False, "missing_eip712_domain")
    parsed = parse_requirements(bare)
    assert not isinstance(parsed, Failure)
    assert domain_of(parsed) is None


def test_an_authorization_valid_for_longer_than_the_offer_allows_is_refused(pay: Callable[..., str]) -> None:
    required, requirements = _offer()
    header = pay(required)  # valid for the offer's 300 s
    assert _judged(header, requirements) == (True, None)
    assert _judged(header, {**requirements, "maxTimeoutSeconds": 10}) == (False, "validity_too_long")


def test_a_payment_signed_under_a_domain_that_is_not_the_networks_usdc_is_refused(pay: Callable[..., str]) -> None:
    """The signature recovers under the stated domain, but USDC on base-sepolia does not sign as this name."""
    required, requirements = _offer(extra={"name": "Not USDC", "version": "2"})
    assert _judged(pay(required), requirements) == (False, "eip712_domain_mismatch")
