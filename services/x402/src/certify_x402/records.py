"""Settlement records in shared state, one per authorization: the replay guard and the idempotency store.

Keyed by network, payer and nonce (EIP-3009 lets a nonce be used once per payer and contract), so
every worker and replica sharing Redis agrees. A record exists from the moment a settlement is
attempted and lives until the authorization's ``validBefore`` plus a retention period, long after
the authorization itself could be replayed on chain.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

from certify_common.evm import UsdcNetwork
from certify_common.kv import KeyValue
from certify_x402.wire import Payment

State = Literal["attempting", "pending", "done"]


def record_key(network: UsdcNetwork, payer: str, nonce: str) -> str:
    """The shared-state key of one authorization."""
    return f"x402:settlement:{network.name}:{payer.lower()}:{nonce.lower()}"


def fingerprint(payment: Payment, requirements: dict[str, Any]) -> str:
    """What makes two submissions the same payment: the signed authorization, the asset and the payee."""
    facts = {
        "authorization": {key: value.lower() for key, value in payment.authorization.as_wire().items()},
        "asset": str(requirements.get("asset", "")).lower(),
    }
    return json.dumps(facts, sort_keys=True, separators=(",", ":"))


@dataclass
class SettlementRecord:
    """What this service knows about one authorization's settlement.

    ``attempting``: a /settle was sent and its answer is unknown (timeout, outage); ``pending``: the
    facilitator broadcast ``transaction`` but had no receipt yet; ``done``: ``answer`` is final.
    ``body`` is the exact facilitator request, re-sent unchanged when reconciling.
    """

    fingerprint: str
    state: State
    body: dict[str, Any]
    answer: dict[str, Any] | None = None
    transaction: str | None = None


class SettlementRecords:
    """Load and store records through the shared :class:`KeyValue`."""

    def __init__(self, kv: KeyValue, retention_s: int) -> None:
        self.kv = kv
        self.retention_s = retention_s

    async def load(self, key: str) -> SettlementRecord | None:
        raw = await self.kv.get(key)
        if raw is None:
            return None
        return SettlementRecord(**json.loads(raw))

    async def save(self, key: str, record: SettlementRecord, *, valid_before: int, now: int) -> None:
        ttl_s = max(valid_before - now, 0) + self.retention_s
        await self.kv.set(key, json.dumps(asdict(record), separators=(",", ":")), ttl_s=ttl_s)
