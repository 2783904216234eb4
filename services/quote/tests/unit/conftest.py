"""Test doubles for the quote server's unit tests: a scripted price upstream and a settable clock."""

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from certify_common.errors import Failure


class Clock:
    """A wall clock tests move by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedUpstream:
    """Answers with ``price`` (or ``fail`` when set) and counts requests; ``gate`` holds answers back."""

    def __init__(self, price: str = "0.0044") -> None:
        self.price: Decimal = Decimal(price)
        self.fail: Failure | None = None
        self.calls = 0
        self.called = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    async def usd_price(self) -> Decimal | Failure:
        self.calls += 1
        self.called.set()
        await self.gate.wait()
        return self.fail if self.fail is not None else self.price


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def upstream() -> ScriptedUpstream:
    return ScriptedUpstream()
