"""verify and settle, end to end: decode, offline checks, replay guard, on-chain and facilitator checks.

The replay guard runs before any network call: an authorization this service has settled or is
settling (a record in shared state) is ``nonce_already_used`` for ``verify``, while ``settle`` of
the very same payment returns the recorded answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from certify_common.codes import FailureCode
from certify_common.errors import Failure, failure
from certify_common.evm import UsdcNetwork
from certify_x402 import decisions
from certify_x402.chain import EvmRpc
from certify_x402.eip3009 import digest
from certify_x402.facilitator import Facilitator, request_body
from certify_x402.records import fingerprint
from certify_x402.settings import X402Settings
from certify_x402.settlement import Settled, Settlement
from certify_x402.verification import Verdict, check_payment, domain_of, our_reason
from certify_x402.wire import Payment, Requirement, decode_header, parse_requirements


def _decoded(payment_header: str) -> Payment | None:
    """The payment a header carries, for the decision log (None when it does not decode)."""
    payment = decode_header(payment_header)
    return None if isinstance(payment, Failure) else payment


@dataclass(frozen=True)
class Checked:
    """A verification outcome with what was decoded (payment is None when the header was malformed)."""

    verdict: Verdict
    payment: Payment | None
    requirement: Requirement


class Payments:
    """The payment operations behind the MCP tools."""

    def __init__(
        self,
        settings: X402Settings,
        settlement: Settlement,
        facilitator: Facilitator,
        rpc: EvmRpc,
        clock: Callable[[], int],
    ) -> None:
        self.settings = settings
        self.settlement = settlement
        self.facilitator = facilitator
        self.rpc = rpc
        self.clock = clock

    def _requirement(self, requirements: dict[str, Any]) -> tuple[Requirement, UsdcNetwork] | Failure:
        requirement = parse_requirements(requirements)
        if isinstance(requirement, Failure):
            return requirement
        if requirement.network is None or requirement.network.name not in self.settings.x402_networks:
            return failure(
                "unknown_network",
                f"network {requirement.network_id!r} is not enabled here",
                enabled=self.settings.x402_networks,
            )
        return requirement, requirement.network

    async def _smart_wallet(self, verdict: Verdict, payment: Payment, requirement: Requirement) -> Verdict | Failure:
        """A signature that does not recover may be a smart wallet's: ask it (EIP-1271) where an RPC is set."""
        network, domain = requirement.network, domain_of(requirement)
        if verdict.reason != "invalid_signature" or network is None or domain is None:
            return verdict
        if not self.rpc.configured(network):
            return verdict
        wallet = payment.authorization.from_address
        is_contract = await self.rpc.has_code(network, wallet)
        if isinstance(is_contract, Failure) or not is_contract:
            return is_contract if isinstance(is_contract, Failure) else verdict
        hashed = digest(payment.authorization, domain)
        accepted = await self.rpc.eip1271_valid(network, wallet, hashed, payment.signature)
        if isinstance(accepted, Failure) or not accepted:
            return accepted if isinstance(accepted, Failure) else verdict
        return check_payment(payment, requirement, self.clock(), signer_verified=True)

    async def _on_chain(self, network: UsdcNetwork, payment: Payment) -> Verdict | Failure | None:
        auth = payment.authorization
        # Both reads in one batch request: one round trip to the node instead of two.
        state = await self.rpc.payer_state(network, auth.from_address, auth.nonce)
        if isinstance(state, Failure):
            return state
        used, balance = state
        if used:  # a spent authorization is reported as such, whatever the balance (read or not)
            return Verdict(False, "nonce_already_used", "authorizationState is used on chain", auth.from_address)
        if balance < auth.value:
            return Verdict(False, "insufficient_funds", "the payer's USDC balance is too low", auth.from_address)
        return None

    async def _delegate(self, network: UsdcNetwork, payment: Payment, requirement: Requirement) -> Verdict | Failure:
        answer = await self.facilitator.post(network, "verify", request_body(payment.wire, requirement.raw))
        if isinstance(answer, Failure):
            return answer
        payer = payment.authorization.from_address
        if answer.get("isValid") is True:
            return Verdict(True, None, None, payer)
        reason = answer.get("invalidReason")
        return Verdict(False, our_reason(reason), f"the facilitator says {reason}", payer)

    async def verify(self, payment_header: str, requirements: dict[str, Any]) -> Checked | Failure:
        """Every check of the spec, cheapest first; network calls only for payments that pass offline. Logged."""
        checked = await self._verify(payment_header, requirements)
        if isinstance(checked, Failure):
            decisions.verification(checked, _decoded(payment_header))
        else:
            decisions.verification(checked.verdict, checked.payment)
        return checked

    async def settle(self, payment_header: str, requirements: dict[str, Any]) -> Settled | Failure:
        """Settle once: a recorded authorization is answered from the record, a new one is verified first. Logged."""
        settled = await self._settle(payment_header, requirements)
        decisions.settlement(settled, _decoded(payment_header))
        return settled

    async def _verify(self, payment_header: str, requirements: dict[str, Any]) -> Checked | Failure:
        parsed = self._requirement(requirements)
        if isinstance(parsed, Failure):
            return parsed
        requirement, network = parsed
        payment = decode_header(payment_header)
        if isinstance(payment, Failure):
            return Checked(Verdict(False, payment.code, payment.message, None), None, requirement)
        offline = check_payment(payment, requirement, self.clock())
        if offline.reason not in (None, "invalid_signature"):
            return Checked(offline, payment, requirement)
        # The replay guard comes before any network call (including a smart wallet's signature check).
        if await self.settlement.known(network, payment) is not None:
            replay = Verdict(False, "nonce_already_used", "this authorization was settled here", offline.payer)
            return Checked(replay, payment, requirement)
        verdict = await self._smart_wallet(offline, payment, requirement)
        if isinstance(verdict, Failure):
            return verdict
        if not verdict.is_valid:
            return Checked(verdict, payment, requirement)
        if self.rpc.configured(network):
            on_chain = await self._on_chain(network, payment)
            if isinstance(on_chain, Failure):
                return on_chain
            if on_chain is not None:
                return Checked(on_chain, payment, requirement)
        if self.settings.x402_verify_with_facilitator:
            delegated = await self._delegate(network, payment, requirement)
            if isinstance(delegated, Failure):
                return delegated
            return Checked(delegated, payment, requirement)
        return Checked(verdict, payment, requirement)

    async def _settle(self, payment_header: str, requirements: dict[str, Any]) -> Settled | Failure:
        parsed = self._requirement(requirements)
        if isinstance(parsed, Failure):
            return parsed
        requirement, network = parsed
        payment = decode_header(payment_header)
        if isinstance(payment, Failure):
            return payment
        record = await self.settlement.known(network, payment)
        if record is None:
            verdict = await self._smart_wallet(check_payment(payment, requirement, self.clock()), payment, requirement)
            if isinstance(verdict, Failure):
                return verdict
            if not verdict.is_valid and verdict.reason == "expired" and self.rpc.configured(network):
                # Expired here, but this service may have lost its record of an earlier settlement of it
                # (shared state flushed): only the chain can tell whether it paid.
                return await self.settlement.settle_expired(network, payment, requirement.raw)
            if not verdict.is_valid:
                return failure(
                    verdict.reason or FailureCode.PAYMENT_INVALID, verdict.message or "the payment is invalid"
                )
        elif record.fingerprint != fingerprint(payment, requirement.raw):
            return failure("nonce_already_used", "another authorization with this nonce was settled here")
        return await self.settlement.settle(network, payment, requirement.raw)
