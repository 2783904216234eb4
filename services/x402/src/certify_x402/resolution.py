"""What the chain says about a settlement whose outcome is unknown (EIP-3009, read through the RPC).

An authorization moves money at most once, and the USDC contract records it: ``authorizationState(from,
nonce)`` turns true in the block that used (or cancelled) it, whose ``AuthorizationUsed`` (or
``AuthorizationCanceled``) event names the transaction. So:

- **paid**: the nonce is used, by a successful transaction holding a ``Transfer`` of exactly the
  authorized value from the payer to the payee (this authorization, whoever broadcast it);
- **not paid, never will be**: the nonce was spent otherwise (cancelled, or used by a different
  authorization with the same nonce), or it was still unused in a *finalized* block whose timestamp is at
  or past ``validBefore``. ``transferWithAuthorization`` requires ``block.timestamp < validBefore`` and
  block timestamps never decrease, so no later block can use it; a finalized block cannot be reorganised
  away, so that reading is final. The local clock decides nothing;
- **unknown** otherwise (not mined yet, the event beyond the node's log range, the RPC failing): ask again.
"""

from __future__ import annotations

from dataclasses import dataclass

from certify_common.errors import Failure
from certify_common.evm import UsdcNetwork
from certify_x402.chain import EvmRpc
from certify_x402.wire import Authorization


@dataclass(frozen=True)
class Paid:
    """The authorization moved the money in ``transaction``."""

    transaction: str


@dataclass(frozen=True)
class NotPaid:
    """The authorization did not and can never move the money (``code`` says why)."""

    code: str
    message: str


Resolution = Paid | NotPaid | None


async def resolve(rpc: EvmRpc, network: UsdcNetwork, auth: Authorization) -> Resolution | Failure:
    """Paid, NotPaid, or None while the chain cannot tell yet; a retryable Failure when the RPC fails."""
    used = await rpc.authorization_used(network, auth.from_address, auth.nonce)
    if isinstance(used, Failure):
        return used
    return await _spent(rpc, network, auth) if used else await _expired_unused(rpc, network, auth)


async def _spent(rpc: EvmRpc, network: UsdcNetwork, auth: Authorization) -> Resolution | Failure:
    event = await rpc.authorization_event(network, auth.from_address, auth.nonce)
    if isinstance(event, Failure) or event is None:
        return event
    if event.kind == "canceled":
        return NotPaid("authorization_canceled", "the payer cancelled this authorization on chain: nothing was charged")
    moved = await rpc.transfer_in(network, event.transaction, auth.from_address, auth.to, auth.value)
    if isinstance(moved, Failure) or moved is None:
        return moved
    if not moved:
        return NotPaid("nonce_already_used", "another authorization with this nonce was used on chain")
    return Paid(event.transaction)


async def _expired_unused(rpc: EvmRpc, network: UsdcNetwork, auth: Authorization) -> Resolution | Failure:
    final = await rpc.block(network, "finalized")
    if isinstance(final, Failure) or final is None or final.timestamp < auth.valid_before:
        return final if isinstance(final, Failure) else None
    used_then = await rpc.authorization_used(network, auth.from_address, auth.nonce, hex(final.number))
    if isinstance(used_then, Failure) or used_then:
        # Used at the finalized block but not at the head cannot happen: leave it unknown rather than guess.
        return used_then if isinstance(used_then, Failure) else None
    return NotPaid(
        "expired",
        f"the authorization expired unused (finalized block {final.number} is at or past validBefore): "
        "nothing was charged",
    )
