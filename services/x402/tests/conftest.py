"""Fixtures shared by the x402 tests: the official SDK (installed with its `evm` extra) as payer and verifier,
through the test kit's builders (certify_testkit.sdk_payments)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from x402.schemas import VerifyResponse

from certify_testkit.sdk_payments import sdk_pay, sdk_verify


@pytest.fixture
def pay() -> Callable[..., str]:
    return sdk_pay


@pytest.fixture
def offline_sdk_verify() -> Callable[[str, dict[str, Any]], VerifyResponse]:
    return sdk_verify
