"""The failure-code registry: wire strings, statuses and the retry default of ``failure(...)``."""

from __future__ import annotations

from certify_common.codes import FailureCode, registered
from certify_common.errors import failure


def test_a_registered_code_builds_the_same_failure_as_its_wire_string() -> None:
    from_enum = failure(FailureCode.NONCE_ALREADY_USED, "used", nonce="0x01")
    from_string = failure("nonce_already_used", "used", nonce="0x01")
    assert from_enum == from_string
    assert from_enum.model_dump(mode="json") == {
        "code": "nonce_already_used",
        "message": "used",
        "retryable": False,
        "details": {"nonce": "0x01"},
    }


def test_retryable_defaults_to_the_registry_and_a_call_site_may_override_it() -> None:
    assert failure(FailureCode.RPC_UNAVAILABLE, "down").retryable is True
    assert failure(FailureCode.INVALID_SIGNATURE, "bad").retryable is False
    assert failure(FailureCode.FACILITATOR_BAD_ANSWER, "odd", retryable=True).retryable is True
    assert failure("not_a_registered_code", "relayed").retryable is False


def test_the_registry_holds_status_and_retry_flag_for_each_wire_code() -> None:
    assert registered("rate_limited") is FailureCode.RATE_LIMITED
    assert (FailureCode.RATE_LIMITED.http_status, FailureCode.RATE_LIMITED.retryable) == (429, True)
    assert (FailureCode.EXPIRED.http_status, FailureCode.EXPIRED.retryable) == (402, False)
    assert registered("something_else") is None
