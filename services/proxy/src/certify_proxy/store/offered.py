"""A new request stored with its offer and first three steps in one statement (one round trip on PostgreSQL).

``INSERT … ON CONFLICT (owner, request_id) DO NOTHING`` makes a concurrent or repeated request a replay
(no row comes back) instead of an integrity error; on PostgreSQL the request and its transitions
(``initiated`` → ``quoted`` → ``payment_pending``) go in one statement outside an explicit transaction
(a single statement is atomic), so a 402 costs one round trip. Behind PgBouncer (``DATABASE_PGBOUNCER``) the
statement runs in a transaction: SQLAlchemy prepares and runs it in two exchanges that one server connection
must see. SQLite, which has no data-modifying ``WITH``, takes the two inserts in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from certify_proxy.certification.states import State, check_transition
from certify_proxy.metrics import STATE_TRANSITIONS
from certify_proxy.store.db import retry_dropped
from certify_proxy.store.direct import DirectPool, numbered

logger = logging.getLogger("certify.proxy.states")

_REQUEST = (
    "INSERT INTO certification_requests (request_key, owner, request_id, api_key_id, status, fingerprint, "
    "data_hash, data_size_bytes, network, client_type, callback_url, file_name, public_token, quote_id, "
    "quote_json, amount_atomic, quote_valid_until, offer_json, created_at, updated_at) "
    "VALUES (:request_key, :owner, :request_id, :api_key_id, :status, :fingerprint, :data_hash, "
    ":data_size_bytes, :network, :client_type, :callback_url, :file_name, :public_token, :quote_id, "
    ":quote_json, :amount_atomic, :quote_valid_until, :offer_json, :created_at, :updated_at) "
    "ON CONFLICT (owner, request_id) DO NOTHING RETURNING request_key"
)
_STEPS = (
    "INSERT INTO state_transitions (request_key, from_state, to_state, reason, at) "
    "SELECT request_key, NULL, 'initiated', :received, :created_at FROM inserted "
    "UNION ALL SELECT request_key, 'initiated', 'quoted', :quoted, :updated_at FROM inserted "
    "UNION ALL SELECT request_key, 'quoted', 'payment_pending', :requested, :updated_at FROM inserted"
)
#: PostgreSQL: the request and its steps in one statement; the UNION ALL keeps the steps' order (their ids).
_ONE_STATEMENT = text(f"WITH inserted AS ({_REQUEST}) {_STEPS} RETURNING request_key")
#: The same statement for a direct asyncpg connection (``store/direct.py``), and its parameters' order.
_DIRECT, _DIRECT_NAMES = numbered(f"WITH inserted AS ({_REQUEST}) {_STEPS} RETURNING request_key")
_REQUEST_ONLY = text(_REQUEST)
_STEPS_AFTER = text("WITH inserted AS (SELECT :request_key AS request_key) " + _STEPS)

RECEIVED = "request received"
REQUESTED = "payment requested (402)"
#: The steps a new request takes before its 402 (checked against the state machine once, at import).
STEPS = ((State.INITIATED, State.QUOTED), (State.QUOTED, State.PAYMENT_PENDING))
for _current, _target in STEPS:
    check_transition(_current, _target)


@dataclass(frozen=True)
class NewRequest:
    """The columns of a new, offered request (its status is ``payment_pending``)."""

    request_key: str
    owner: str
    request_id: str
    api_key_id: int | None
    fingerprint: str
    data_hash: str
    data_size_bytes: int
    network: str
    client_type: str
    callback_url: str | None
    file_name: str | None
    public_token: str
    quote_id: str
    quote_json: str
    amount_atomic: int
    quote_valid_until: datetime
    offer_json: str
    created_at: datetime
    updated_at: datetime

    def parameters(self, amount_usdc: str) -> dict[str, Any]:
        return {
            **self.__dict__,
            "status": State.PAYMENT_PENDING.value,
            "received": RECEIVED,
            "quoted": f"quoted {amount_usdc} USDC",
            "requested": REQUESTED,
        }


async def insert_offered(
    engine: AsyncEngine, direct: DirectPool, row: NewRequest, amount_usdc: str, *, autocommit: bool
) -> bool:
    """Store the request and its steps; False when the owner already has a request under that id (a replay).

    On PostgreSQL with direct connections the statement goes straight to asyncpg. Either way it is retried
    once on a dropped connection: were the first attempt's commit lost with its answer, the retry conflicts
    and the request is answered as a replay of the stored one.
    """
    parameters = row.parameters(amount_usdc)
    if direct.enabled:
        values = [parameters[name] for name in _DIRECT_NAMES]
        return await direct.fetchval("INSERT certification_requests", _DIRECT, *values) is not None
    return await retry_dropped(lambda: _insert(engine, parameters, autocommit))


async def _insert(engine: AsyncEngine, parameters: dict[str, Any], autocommit: bool) -> bool:
    if engine.dialect.name == "postgresql" and autocommit:
        async with engine.connect() as connection:
            single = await connection.execution_options(isolation_level="AUTOCOMMIT")
            return (await single.execute(_ONE_STATEMENT, parameters)).first() is not None
    if engine.dialect.name == "postgresql":  # behind PgBouncer: a transaction keeps prepare and run together
        async with engine.begin() as connection:
            return (await connection.execute(_ONE_STATEMENT, parameters)).first() is not None
    async with engine.begin() as connection:
        if (await connection.execute(_REQUEST_ONLY, parameters)).first() is None:
            return False
        await connection.execute(_STEPS_AFTER, parameters)
    return True


def count_steps(request_id: str, amount_usdc: str) -> None:
    """The metrics and logs of a new request's steps, as ``repositories.transition`` records them."""
    reasons = {State.QUOTED: f"quoted {amount_usdc} USDC", State.PAYMENT_PENDING: REQUESTED}
    for current, target in STEPS:
        STATE_TRANSITIONS.labels(target.value).inc()
        logger.info(
            "state transition",
            extra={
                "certify_request_id": request_id,
                "from_state": current,
                "to_state": target,
                "reason": reasons[target],
            },
        )
