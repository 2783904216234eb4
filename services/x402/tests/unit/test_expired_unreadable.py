"""An expired authorization this service has no record of is judged by the chain: while the chain cannot be read
the answer stays retryable and nothing is posted to the facilitator. Requirements that are not an object are
refused before anything is decoded."""

from __future__ import annotations

import time
from typing import Any

import pytest

from certify_common.errors import Failure
from certify_testkit.mcp_calls import failure_of
from certify_x402.wire import parse_requirements

from .test_reconciliation import RPC, _payment, _settle


@pytest.mark.x402_settings(**RPC)
async def test_an_expired_authorization_unknown_here_stays_retryable_while_the_chain_cannot_be_read(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid_before = int(time.time()) + 120
    header, requirements, _key, _auth = await _payment(stack, valid_before=valid_before)
    monkeypatch.setattr(time, "time", lambda: float(valid_before + 30))  # this service's clock
    plan = {"fail_next": 1000, "fail_status": 503}
    assert (await stack.sandbox.put("/_control/faults/evm_rpc", json=plan)).status_code == 200

    unknown = failure_of(await _settle(stack, header, requirements))

    assert (unknown["code"], unknown["retryable"]) == ("rpc_unavailable", True)
    assert stack.transport.posted("/facilitator/settle") == []
    assert stack.ledgers.authorization_transfers() == 0


@pytest.mark.parametrize("requirements", [None, [], "exact"])
def test_requirements_that_are_not_an_object_are_invalid(requirements: Any) -> None:
    parsed = parse_requirements(requirements)
    assert isinstance(parsed, Failure)
    assert parsed.code == "invalid_requirements"
